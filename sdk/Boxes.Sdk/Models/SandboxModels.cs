using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Boxes.Sdk;

/// <summary>What a sandbox may do beyond running commands.</summary>
public sealed record SandboxCapabilities
{
    /// <summary><c>none</c> (default: loopback only) or <c>internet</c>.</summary>
    public string? Network { get; init; }
    /// <summary>OpenCode settings, as the seed spells them (<c>{enabled, defaultAgent, allowPromptApi}</c>).</summary>
    public JsonObject? Opencode { get; init; }
    /// <summary>Browser settings (<c>{mode, streamPreview, humanInLoop, viewport}</c>).</summary>
    public JsonObject? Browser { get; init; }
    /// <summary>Docs settings.</summary>
    public JsonObject? Docs { get; init; }
    /// <summary>Storage settings.</summary>
    public JsonObject? Storage { get; init; }
}

/// <summary>What a sandbox is created with. Unset fields are not sent.</summary>
public sealed record SandboxConfig
{
    /// <summary><c>bun</c> (default), <c>python</c> or <c>base</c>.</summary>
    public string? Runtime { get; init; } = "bun";
    /// <summary><c>standard</c> (default).</summary>
    public string? Size { get; init; } = "standard";
    /// <summary>Environment variables for every command.</summary>
    public IReadOnlyDictionary<string, string>? Env { get; init; }
    /// <summary>Destroy the workspace on kill (the API's default: true); false archives it as a checkpoint.</summary>
    public bool? Ephemeral { get; init; }
    /// <summary>Time to live in milliseconds (default: the plan's limit).</summary>
    public long? MaxDurationMs { get; init; }
    /// <summary>Preferred region.</summary>
    public string? Region { get; init; }
    /// <summary>Network and the other capabilities.</summary>
    public SandboxCapabilities? Capabilities { get; init; }
    /// <summary>A checkpoint key to start from (the caller's own checkpoints only).</summary>
    public string? FromCheckpoint { get; init; }
    /// <summary>How long <see cref="SandboxCloud.LaunchAsync"/> waits for ready, in milliseconds (default 30 000). Not sent.</summary>
    [JsonIgnore]
    public int Timeout { get; init; } = 30_000;
}

/// <summary>One stored artifact of a sandbox.</summary>
public sealed record ArtifactItem
{
    /// <summary>Its key (pass to <see cref="SandboxCloud.GetArtifactDownloadUrlAsync"/> or <c>fromCheckpoint</c>).</summary>
    public string Key { get; init; } = "";
    /// <summary>e.g. <c>checkpoint</c>.</summary>
    public string? Kind { get; init; }
    /// <summary>e.g. <c>application/gzip</c>.</summary>
    public string? ContentType { get; init; }
    /// <summary>Its size.</summary>
    public long SizeBytes { get; init; }
    /// <summary>When it was stored.</summary>
    public DateTimeOffset? CreatedAt { get; init; }
}

/// <summary>A sandbox's artifacts.</summary>
public sealed record SandboxArtifacts
{
    /// <summary>The newest checkpoint's key.</summary>
    public string? CheckpointKey { get; init; }
    /// <summary>The output log's key (null until output logs are stored).</summary>
    public string? OutputLogKey { get; init; }
    /// <summary>Every artifact.</summary>
    public IReadOnlyList<ArtifactItem> Items { get; init; } = [];
}

/// <summary>A sandbox as the API shows it.</summary>
public sealed record Sandbox
{
    /// <summary>The sandbox's id.</summary>
    public string Id { get; init; } = "";
    /// <summary><c>queued scheduling starting ready paused ending ended failed</c>.</summary>
    public string Status { get; init; } = "";
    /// <summary>Its runtime.</summary>
    public string? Runtime { get; init; }
    /// <summary>Its size.</summary>
    public string? Size { get; init; }
    /// <summary>Its region.</summary>
    public string? Region { get; init; }
    /// <summary>Whether its workspace is destroyed on kill.</summary>
    public bool? Ephemeral { get; init; }
    /// <summary><c>none</c> or <c>internet</c>.</summary>
    public string? Network { get; init; }
    /// <summary>The checkpoint it started from.</summary>
    public string? FromCheckpoint { get; init; }
    /// <summary>Its time to live.</summary>
    public long? MaxDurationMs { get; init; }
    /// <summary>When it was requested.</summary>
    public DateTimeOffset? CreatedAt { get; init; }
    /// <summary>When it became ready.</summary>
    public DateTimeOffset? ReadyAt { get; init; }
    /// <summary>When it was paused (while paused).</summary>
    public DateTimeOffset? PausedAt { get; init; }
    /// <summary>When it ended.</summary>
    public DateTimeOffset? EndedAt { get; init; }
    /// <summary>When it will be ended at the latest.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
    /// <summary>Why it ended or failed.</summary>
    public string? EndReason { get; init; }
    /// <summary>The terminal WebSocket URL (with a token), present while ready.</summary>
    public string? TerminalUrl { get; init; }
    /// <summary>The browser preview's viewer URL, when the platform offers one.</summary>
    public string? BrowserPreviewViewerUrl { get; init; }
    /// <summary>OpenCode state, when the platform offers it.</summary>
    public JsonElement? Opencode { get; init; }
    /// <summary>Its artifacts.</summary>
    public SandboxArtifacts? Artifacts { get; init; }
}

/// <summary>A page of sandboxes, newest first.</summary>
public sealed record SandboxList
{
    /// <summary>The sandboxes.</summary>
    public IReadOnlyList<Sandbox> Items { get; init; } = [];
    /// <summary>Pass back as <c>cursor</c> for the next page; null on the last.</summary>
    public string? NextCursor { get; init; }
}

/// <summary>How a command runs.</summary>
public sealed record ExecOptions
{
    /// <summary>Working directory (default <c>/workspace</c>).</summary>
    public string? Cwd { get; init; }
    /// <summary>Environment variables on top of the sandbox's.</summary>
    public IReadOnlyDictionary<string, string>? Env { get; init; }
    /// <summary>Text given on standard input.</summary>
    public string? Stdin { get; init; }
    /// <summary>Kill the command after this long (the API's default 60 s, at most 1 h).</summary>
    public int? TimeoutMs { get; init; }
}

/// <summary>What a command did.</summary>
public sealed record ExecResult
{
    /// <summary>Standard output.</summary>
    public string Stdout { get; init; } = "";
    /// <summary>Standard error.</summary>
    public string Stderr { get; init; } = "";
    /// <summary>Exit code (124 on timeout, 127 for a missing program).</summary>
    public int ExitCode { get; init; }
    /// <summary>How long it ran.</summary>
    public long DurationMs { get; init; }
    /// <summary>Whether it was killed at its timeout.</summary>
    public bool TimedOut { get; init; }
    /// <summary>Whether standard output was cut at the API's cap.</summary>
    public bool StdoutTruncated { get; init; }
    /// <summary>Whether standard error was cut at the API's cap.</summary>
    public bool StderrTruncated { get; init; }
}

/// <summary>One entry of a folder.</summary>
public sealed record FsEntry
{
    /// <summary>Its name.</summary>
    public string Name { get; init; } = "";
    /// <summary><c>file</c>, <c>dir</c>, <c>symlink</c> or <c>other</c>.</summary>
    public string Type { get; init; } = "";
    /// <summary>Its size in bytes.</summary>
    public long Size { get; init; }
    /// <summary>When it was last modified.</summary>
    public DateTimeOffset? Mtime { get; init; }
}

/// <summary>An interactive shell over WebSocket.</summary>
public sealed record TerminalInfo
{
    /// <summary>The URL to open with any WebSocket client.</summary>
    public string TerminalUrl { get; init; } = "";
    /// <summary>The session-scoped token it carries.</summary>
    public string? Token { get; init; }
}

/// <summary>A checkpoint's outcome.</summary>
public sealed record CheckpointResult
{
    /// <summary>Whether it was stored.</summary>
    public bool Ok { get; init; }
    /// <summary>The checkpoint's key (for <c>fromCheckpoint</c> and downloads).</summary>
    public string? Key { get; init; }
    /// <summary>The sandbox's artifacts afterwards.</summary>
    public SandboxArtifacts? Artifacts { get; init; }
}

/// <summary>A sandbox's artifacts, as <c>GET .../artifacts</c> answers.</summary>
public sealed record SandboxArtifactsResult
{
    /// <summary>The artifacts.</summary>
    public SandboxArtifacts Artifacts { get; init; } = new();
}

/// <summary>A signed, expiring link to an artifact that needs no API key.</summary>
public sealed record ArtifactDownload
{
    /// <summary>The link.</summary>
    public string Url { get; init; } = "";
    /// <summary>When it stops working.</summary>
    public DateTimeOffset? ExpiresAt { get; init; }
}
