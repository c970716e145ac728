using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Reflection;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;

namespace Boxes.Sdk.Internal;

/// <summary>Which failures a call may be retried after.</summary>
internal enum RetryRule
{
    /// <summary>GET and DELETE: repeating them changes nothing, so 5xx, 429, network failures and timeouts are retried.</summary>
    Idempotent,

    /// <summary>
    /// A create: it carries an <c>Idempotency-Key</c> (one per logical call, the same on every attempt), which the API
    /// answers with the first answer again, so it is retried like <see cref="Idempotent"/> without making two boxes.
    /// </summary>
    Create,

    /// <summary>
    /// exec, run-code, fs write, pause, resume, checkpoint, webhook test/rotate/replay: a repeat would act twice, so
    /// they are retried only where the server surely did not act: a 429, or a connection that could not be made.
    /// Never after a 5xx or a timeout once the request was sent.
    /// </summary>
    OnlyIfNotActed,
}

/// <summary>One logical API call (all its attempts).</summary>
internal sealed record ApiCall(HttpMethod Method, string Path, RetryRule Rule)
{
    /// <summary>Makes the body afresh for each attempt (a sent HttpContent cannot be sent again).</summary>
    public Func<HttpContent>? Content { get; init; }

    /// <summary>This call's per-attempt timeout, when it needs longer than the client's (a long exec).</summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// The attempt in flight is not abandoned when the caller cancels (only its timeout ends it): a launch's create
    /// must learn the id of a box the server made, so as to close it. Waits between attempts still end at once.
    /// </summary>
    public bool FinishInFlightOnCancel { get; init; }

    /// <summary>Return as soon as the headers are in (a stream); the caller disposes the response.</summary>
    public bool Streaming { get; init; }
}

/// <summary>The SDK's HTTP client: authentication, retries with full jitter, idempotency keys, error parsing.</summary>
internal sealed class BoxesTransport : IDisposable
{
    public const string IdempotencyKeyHeader = "Idempotency-Key";
    private const int MaxErrorBodyChars = 500;

    private readonly HttpClient _http;
    private readonly RetryOptions _retry;
    private readonly TimeSpan _requestTimeout;

    public BoxesTransport(BoxesClientOptions? options)
    {
        options ??= new BoxesClientOptions();
        var key = options.ApiKey ?? Environment.GetEnvironmentVariable(BoxesClientOptions.ApiKeyVariable);
        if (string.IsNullOrWhiteSpace(key))
            throw new ArgumentException(
                $"No API key: set BoxesClientOptions.ApiKey or the {BoxesClientOptions.ApiKeyVariable} environment variable.", nameof(options));

        var baseText = options.BaseUrl;
        if (string.IsNullOrWhiteSpace(baseText)) baseText = Environment.GetEnvironmentVariable(BoxesClientOptions.BaseUrlVariable);
        if (string.IsNullOrWhiteSpace(baseText)) baseText = BoxesClientOptions.DefaultBaseUrl;
        BaseUrl = HttpUrl(baseText, options.BaseUrl is null ? BoxesClientOptions.BaseUrlVariable : "BaseUrl");
        AppUrl = string.IsNullOrWhiteSpace(options.AppUrl) ? null : HttpUrl(options.AppUrl, "AppUrl");

        _retry = options.Retry ?? throw new ArgumentException("Retry: must not be null.", nameof(options));
        if (_retry.MaxRetries < 0) throw new ArgumentException($"Retry.MaxRetries: must be 0 or more (got {_retry.MaxRetries}).", nameof(options));
        if (_retry.BaseDelayMs < 0) throw new ArgumentException($"Retry.BaseDelayMs: must be 0 or more (got {_retry.BaseDelayMs}).", nameof(options));
        if (_retry.MaxDelayMs < 0) throw new ArgumentException($"Retry.MaxDelayMs: must be 0 or more (got {_retry.MaxDelayMs}).", nameof(options));
        if (options.RequestTimeout <= TimeSpan.Zero && options.RequestTimeout != System.Threading.Timeout.InfiniteTimeSpan)
            throw new ArgumentException($"RequestTimeout: must be positive (got {options.RequestTimeout}).", nameof(options));
        _requestTimeout = options.RequestTimeout;

        // Our own handler recycles pooled connections so a long-lived client follows DNS changes; a caller's handler is theirs to dispose.
        var handler = options.HttpHandler ?? new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2) };
        _http = new HttpClient(handler, disposeHandler: options.HttpHandler is null)
        {
            BaseAddress = BaseUrl,
            // Each attempt has its own timeout (RequestTimeout); the client's would cut a whole retried call short.
            Timeout = System.Threading.Timeout.InfiniteTimeSpan,
        };
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        _http.DefaultRequestHeaders.TryAddWithoutValidation("User-Agent", UserAgent);
    }

    /// <summary><c>boxes-sdk-dotnet/&lt;version&gt;</c>.</summary>
    public static string UserAgent { get; } = "boxes-sdk-dotnet/" + SdkVersion();

    /// <summary>The API's address, ending in <c>/</c>.</summary>
    public Uri BaseUrl { get; }

    /// <summary>The public app host for relative viewer URLs.</summary>
    public Uri? AppUrl { get; }

    /// <summary>The jitter's source; tests put a seeded one here.</summary>
    internal Random Jitter { get; set; } = Random.Shared;

    /// <summary>The per-attempt timeout calls get unless they ask for longer.</summary>
    public TimeSpan RequestTimeout => _requestTimeout;

    public void Dispose() => _http.Dispose();

    /// <summary>
    /// Sends <paramref name="call"/>, retrying per its rule, and returns the successful response (its body buffered
    /// unless streaming). Any other outcome is a <see cref="BoxesError"/>, or an <see cref="OperationCanceledException"/>
    /// when <paramref name="cancellationToken"/> is cancelled.
    /// </summary>
    public async Task<HttpResponseMessage> SendAsync(ApiCall call, CancellationToken cancellationToken)
    {
        var idempotencyKey = call.Rule == RetryRule.Create ? Guid.NewGuid().ToString() : null;
        var timeout = call.Timeout is { } longer && longer > _requestTimeout ? longer : _requestTimeout;
        for (var attempt = 0; ; attempt++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var mayRetry = attempt < _retry.MaxRetries;
            using var request = new HttpRequestMessage(call.Method, call.Path) { Content = call.Content?.Invoke() };
            if (idempotencyKey is not null) request.Headers.TryAddWithoutValidation(IdempotencyKeyHeader, idempotencyKey);

            using var attemptCancel = call.FinishInFlightOnCancel
                ? new CancellationTokenSource()
                : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (timeout != System.Threading.Timeout.InfiniteTimeSpan) attemptCancel.CancelAfter(timeout);

            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request,
                    call.Streaming ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead,
                    attemptCancel.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested && !call.FinishInFlightOnCancel)
            {
                throw;
            }
            catch (OperationCanceledException ex)
            {
                // Our own per-attempt timeout: the request may have reached the server.
                var failure = new BoxesError(0, BoxesError.NetworkErrorCode,
                    $"{call.Method} /{call.Path} got no answer within {timeout.TotalSeconds:0.###} s (attempt {attempt + 1}).", innerException: ex);
                if (!mayRetry || call.Rule == RetryRule.OnlyIfNotActed) throw failure;
                await WaitBeforeRetryAsync(attempt, null, cancellationToken).ConfigureAwait(false);
                continue;
            }
            catch (HttpRequestException ex)
            {
                var failure = new BoxesError(0, BoxesError.NetworkErrorCode,
                    $"{call.Method} /{call.Path} failed after {attempt + 1} attempt(s): {ex.Message}", innerException: ex);
                if (!mayRetry || (call.Rule == RetryRule.OnlyIfNotActed && !ConnectionNotMade(ex))) throw failure;
                await WaitBeforeRetryAsync(attempt, null, cancellationToken).ConfigureAwait(false);
                continue;
            }

            if (response.IsSuccessStatusCode) return response;

            var status = (int)response.StatusCode;
            var retryable = status == 429 || (status >= 500 && call.Rule != RetryRule.OnlyIfNotActed);
            if (mayRetry && retryable)
            {
                var retryAfter = RetryAfter(response);
                response.Dispose();
                await WaitBeforeRetryAsync(attempt, retryAfter, cancellationToken).ConfigureAwait(false);
                continue;
            }
            using (response) throw await ErrorFromAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Sends <paramref name="call"/> and reads its JSON answer.</summary>
    public async Task<T> SendJsonAsync<T>(ApiCall call, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(call, cancellationToken).ConfigureAwait(false);
        // The body is already buffered; a call that must finish in flight must also get to read what it was answered.
        return await ReadJsonAsync(response, type, call.FinishInFlightOnCancel ? CancellationToken.None : cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Sends <paramref name="call"/> and ignores what it answers (besides its status).</summary>
    public async Task SendIgnoringBodyAsync(ApiCall call, CancellationToken cancellationToken)
    {
        using var response = await SendAsync(call, cancellationToken).ConfigureAwait(false);
    }

    public static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, CancellationToken cancellationToken)
    {
        T? value;
        try
        {
            value = await response.Content.ReadFromJsonAsync(type, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is JsonException or NotSupportedException)
        {
            throw new BoxesError((int)response.StatusCode, "INVALID_RESPONSE",
                $"The API answered {(int)response.StatusCode} with a body that is not the expected {typeof(T).Name}: {ex.Message}", innerException: ex);
        }
        return value ?? throw new BoxesError((int)response.StatusCode, "INVALID_RESPONSE",
            $"The API answered {(int)response.StatusCode} with null where a {typeof(T).Name} was expected.");
    }

    /// <summary>A body factory for <paramref name="value"/> as JSON, serialized once and sent as often as there are attempts.</summary>
    public static Func<HttpContent> Json<T>(T value, JsonTypeInfo<T> type)
    {
        var bytes = JsonSerializer.SerializeToUtf8Bytes(value, type);
        return () =>
        {
            var content = new ByteArrayContent(bytes);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" };
            return content;
        };
    }

    /// <summary>A body factory for raw bytes.</summary>
    public static Func<HttpContent> Bytes(ReadOnlyMemory<byte> bytes)
    {
        var copy = bytes.ToArray(); // the caller may reuse its buffer while we retry
        return () =>
        {
            var content = new ByteArrayContent(copy);
            content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
            return content;
        };
    }

    /// <summary>An id as one escaped path segment; a missing one is the caller's mistake, said plainly.</summary>
    public static string Segment(string? value, string parameterName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value, parameterName);
        return Uri.EscapeDataString(value);
    }

    /// <summary><paramref name="url"/> made absolute against the app host when it is relative (viewer URLs).</summary>
    public string? ResolveAppUrl(string? url)
    {
        if (string.IsNullOrEmpty(url) || AppUrl is null || Uri.TryCreate(url, UriKind.Absolute, out _)) return url;
        return new Uri(AppUrl, url).ToString();
    }

    /// <summary>The API's error, or one made from whatever it did send.</summary>
    public static async Task<BoxesError> ErrorFromAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var status = (int)response.StatusCode;
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            body = "";
        }
        if (body.Length > 0)
        {
            try
            {
                if (JsonSerializer.Deserialize(body, BoxesJsonContext.Default.ErrorEnvelope)?.Error is { Code: { Length: > 0 } code } error)
                    return new BoxesError(status, code, error.Message ?? $"HTTP {status}", error.RequiredPlan, error.CurrentPlan);
            }
            catch (JsonException)
            {
                // Not the API's JSON (a proxy's HTML page, a plain-text error): described below from status and body.
            }
        }
        var reason = string.IsNullOrEmpty(response.ReasonPhrase) ? "" : " " + response.ReasonPhrase;
        var excerpt = body.Trim();
        if (excerpt.Length > MaxErrorBodyChars) excerpt = excerpt[..MaxErrorBodyChars] + "...";
        return new BoxesError(status, $"HTTP_{status}", excerpt.Length == 0 ? $"HTTP {status}{reason}" : $"HTTP {status}{reason}: {excerpt}");
    }

    /// <summary><c>Retry-After</c> in seconds or as an HTTP date; null when absent.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response)
    {
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        if (header?.Date is { } date)
        {
            var wait = date - DateTimeOffset.UtcNow;
            return wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
        }
        return null;
    }

    /// <summary>
    /// A failure before a connection existed, so no byte of the request left: refused, unreachable, no such host, TLS
    /// handshake. Anything later (a reset mid-request, an answer cut off) may follow the server acting on it.
    /// </summary>
    public static bool ConnectionNotMade(HttpRequestException ex) =>
        ex.HttpRequestError is HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError or HttpRequestError.SecureConnectionError;

    private Task WaitBeforeRetryAsync(int retryIndex, TimeSpan? retryAfter, CancellationToken cancellationToken) =>
        Task.Delay(Backoff.Delay(retryIndex, _retry, Jitter, retryAfter), cancellationToken);

    private static Uri HttpUrl(string text, string name)
    {
        if (!Uri.TryCreate(text.Trim(), UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            throw new ArgumentException($"{name}: expected an absolute http(s) URL such as {BoxesClientOptions.DefaultBaseUrl} (got \"{text}\").");
        // With a trailing slash, relative paths ("v1/browsers") keep any path prefix the API is mounted under.
        return uri.AbsoluteUri.EndsWith('/') ? uri : new Uri(uri.AbsoluteUri + "/");
    }

    private static string SdkVersion()
    {
        var version = typeof(BoxesTransport).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
            ?? typeof(BoxesTransport).Assembly.GetName().Version?.ToString() ?? "0.0.0";
        var plus = version.IndexOf('+'); // drop the source revision the build appends
        return plus < 0 ? version : version[..plus];
    }
}
