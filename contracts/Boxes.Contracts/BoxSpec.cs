namespace Boxes.Contracts;

/// <summary>What kind of box: a headless browser session or a code sandbox.</summary>
public static class BoxKinds
{
    public const string Browser = "browser";
    public const string Sandbox = "sandbox";
}

/// <summary>A bring-your-own proxy for a browser session.</summary>
public sealed record ProxySpec(string Protocol, string Host, int Port, string? Username, string? Password);

/// <summary>
/// Everything a client asked for when it created the box. Browser fields and sandbox fields share one
/// record so that the scheduler and worker carry a single shape; fields that do not apply are null.
/// </summary>
public sealed record BoxSpec
{
    // Shared
    public string? Region { get; init; }
    public long MaxDurationMs { get; init; }

    // Browser sessions
    public string? Weight { get; init; }          // light | medium | heavy
    public string? Isolation { get; init; }       // shared | dedicated
    public string? EgressProfile { get; init; }
    public bool Stealth { get; init; }
    public bool Recording { get; init; }
    public bool Captcha { get; init; }
    public ProxySpec? Proxy { get; init; }
    public string? ProfileKey { get; init; }

    // Code sandboxes (filled in by the sandbox issue)
    public string? Runtime { get; init; }         // bun | python | base
    public string? Size { get; init; }            // standard
    public IReadOnlyDictionary<string, string>? Env { get; init; }
    public bool? Ephemeral { get; init; }
}
