using System.Text.Json.Serialization;

namespace Boxes.Sdk;

/// <summary>A BYO proxy for a browser session.</summary>
public sealed record BrowserProxy
{
    /// <summary><c>http</c>, <c>https</c> or <c>socks5</c>.</summary>
    public string? Protocol { get; init; }
    /// <summary>The proxy's host.</summary>
    public string? Host { get; init; }
    /// <summary>The proxy's port.</summary>
    public int? Port { get; init; }
    /// <summary>Optional user name.</summary>
    public string? Username { get; init; }
    /// <summary>Optional password.</summary>
    public string? Password { get; init; }
}

/// <summary>What a browser session is created with. Unset fields are not sent, so the API's defaults apply.</summary>
public sealed record BrowserConfig
{
    /// <summary><c>light</c> (default), <c>medium</c> or <c>heavy</c>.</summary>
    public string? Weight { get; init; } = "light";
    /// <summary><c>shared</c> or <c>dedicated</c> (Pro and up).</summary>
    public string? Isolation { get; init; }
    /// <summary>Outbound IP profile.</summary>
    public string? EgressProfile { get; init; }
    /// <summary>Anti-detection (Builder and up).</summary>
    public bool? Stealth { get; init; }
    /// <summary>Recording (Pro and up).</summary>
    public bool? Recording { get; init; }
    /// <summary>Automatic CAPTCHA solving.</summary>
    public bool? Captcha { get; init; }
    /// <summary>The session's time to live in milliseconds (default: the plan's limit).</summary>
    public long? MaxDurationMs { get; init; }
    /// <summary>A BYO proxy.</summary>
    public BrowserProxy? Proxy { get; init; }
    /// <summary>A saved browser profile's key.</summary>
    public string? ProfileKey { get; init; }
    /// <summary>Preferred region.</summary>
    public string? Region { get; init; }
    /// <summary>How long <see cref="BrowserCloud.LaunchAsync"/> waits for ready, in milliseconds (default 30 000). Not sent.</summary>
    [JsonIgnore]
    public int Timeout { get; init; } = 30_000;
}

/// <summary>A browser session as the API shows it.</summary>
public sealed record BrowserSession
{
    /// <summary>The session's id.</summary>
    public string Id { get; init; } = "";
    /// <summary><c>queued scheduling starting ready ending ended failed</c>.</summary>
    public string Status { get; init; } = "";
    /// <summary>The weight it runs at.</summary>
    public string? Weight { get; init; }
    /// <summary>Its isolation.</summary>
    public string? Isolation { get; init; }
    /// <summary>Its region.</summary>
    public string? Region { get; init; }
    /// <summary>Whether stealth was asked for.</summary>
    public bool? Stealth { get; init; }
    /// <summary>Whether recording was asked for.</summary>
    public bool? Recording { get; init; }
    /// <summary>Its time to live.</summary>
    public long? MaxDurationMs { get; init; }
    /// <summary>When it was requested.</summary>
    public DateTimeOffset? CreatedAt { get; init; }
    /// <summary>When it became ready.</summary>
    public DateTimeOffset? ReadyAt { get; init; }
    /// <summary>When it ended.</summary>
    public DateTimeOffset? EndedAt { get; init; }
    /// <summary>When it will be ended at the latest.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>Why it ended or failed.</summary>
    public string? EndReason { get; init; }
    /// <summary>The CDP WebSocket URL (with a session-scoped token), present while ready.</summary>
    public string? CdpUrl { get; init; }
    /// <summary>The standalone viewer URL, when the platform offers one.</summary>
    public string? PreviewViewerUrl { get; init; }
}

/// <summary>A page of browser sessions, newest first.</summary>
public sealed record BrowserSessionList
{
    /// <summary>The sessions.</summary>
    public IReadOnlyList<BrowserSession> Items { get; init; } = [];
    /// <summary>Pass back as <c>cursor</c> for the next page; null on the last.</summary>
    public string? NextCursor { get; init; }
}
