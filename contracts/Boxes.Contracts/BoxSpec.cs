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

    // Code sandboxes
    public string? Runtime { get; init; }         // bun | python | base
    public string? Size { get; init; }            // standard
    /// <summary>Environment every command in the sandbox starts with (an exec's own env overrides it).</summary>
    public IReadOnlyDictionary<string, string>? Env { get; init; }
    /// <summary>False: the workspace is archived as a checkpoint artifact when the sandbox ends, so it outlives it.</summary>
    public bool? Ephemeral { get; init; }
    /// <summary><c>none</c> (only loopback, the default) or <c>internet</c> (egress through slirp4netns, no host or private ranges).</summary>
    public string? Network { get; init; }
    /// <summary>The id of a checkpoint artifact (of the same organisation) whose workspace the sandbox starts with.</summary>
    public Guid? FromCheckpoint { get; init; }
}

public static class SandboxRuntimes
{
    public const string Bun = "bun";
    public const string Python = "python";
    public const string Base = "base";
    public static readonly string[] All = [Bun, Python, Base];
}

public static class SandboxNetworks
{
    public const string None = "none";
    public const string Internet = "internet";
}
