namespace Boxes.Sdk;

/// <summary>How failed requests are retried: exponential backoff with full jitter (see the package README).</summary>
public sealed class RetryOptions
{
    /// <summary>Retries after the first attempt (so at most <c>MaxRetries + 1</c> attempts). Default 3; 0 turns retries off.</summary>
    public int MaxRetries { get; init; } = 3;

    /// <summary>The first retry's ceiling in milliseconds; each further retry doubles it. Default 500.</summary>
    public int BaseDelayMs { get; init; } = 500;

    /// <summary>No wait between attempts is longer than this, <c>Retry-After</c> included. Default 10 000.</summary>
    public int MaxDelayMs { get; init; } = 10_000;
}

/// <summary>What <see cref="BrowserCloud"/> and <see cref="SandboxCloud"/> are built with. Every property is optional.</summary>
public sealed class BoxesClientOptions
{
    /// <summary>The environment variable <see cref="ApiKey"/> falls back to.</summary>
    public const string ApiKeyVariable = "BOXES_API_KEY";

    /// <summary>The environment variable <see cref="BaseUrl"/> falls back to.</summary>
    public const string BaseUrlVariable = "BOXES_API_URL";

    /// <summary>Where the API is when neither <see cref="BaseUrl"/> nor <c>BOXES_API_URL</c> says: what <c>scripts/up.sh</c> starts.</summary>
    public const string DefaultBaseUrl = "http://127.0.0.1:8080";

    /// <summary>The organisation's key (<c>br_live_...</c>). Default: the <c>BOXES_API_KEY</c> environment variable; neither is an <see cref="ArgumentException"/>.</summary>
    public string? ApiKey { get; init; }

    /// <summary>The API's address. Default: <c>BOXES_API_URL</c>, else <see cref="DefaultBaseUrl"/>.</summary>
    public string? BaseUrl { get; init; }

    /// <summary>The public app host that relative viewer URLs from the API are resolved against (absolute ones are returned as they are).</summary>
    public string? AppUrl { get; init; }

    /// <summary>Retry settings.</summary>
    public RetryOptions Retry { get; init; } = new();

    /// <summary>
    /// A handler to send requests through (a proxy, a test double, a shared <c>SocketsHttpHandler</c>). The caller keeps
    /// ownership: disposing the cloud object does not dispose it. Default: a handler of the cloud object's own.
    /// </summary>
    public HttpMessageHandler? HttpHandler { get; init; }

    /// <summary>How long one attempt may take before it counts as a network failure (and is retried where that is safe). Default 100 s.</summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);
}
