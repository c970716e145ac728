using System.Text.Json;

namespace Boxes.Sdk;

/// <summary>How an OpenCode prompt runs.</summary>
public sealed record PromptOptions
{
    /// <summary><c>build</c> or <c>plan</c>.</summary>
    public string? Agent { get; init; }
    /// <summary>True for fire-and-forget.</summary>
    public bool? NoReply { get; init; }
}

/// <summary>What <c>GetOpencodeStateAsync</c> asks for.</summary>
public sealed record OpencodeStateOptions
{
    /// <summary>Start an OpenCode session if there is none.</summary>
    public bool? EnsureSession { get; init; }
    /// <summary>The agent for a session it starts.</summary>
    public string? Agent { get; init; }
}

/// <summary>Which OpenCode messages to read.</summary>
public sealed record OpencodeMessagesOptions
{
    /// <summary>An OpenCode session (default: the current one).</summary>
    public string? SessionId { get; init; }
    /// <summary>At most this many.</summary>
    public int? Limit { get; init; }
}

/// <summary>Which OpenCode events to stream.</summary>
public sealed record OpencodeEventsOptions
{
    /// <summary>An OpenCode session (default: the current one).</summary>
    public string? SessionId { get; init; }
}

/// <summary>One server-sent OpenCode event.</summary>
public sealed record OpencodeEvent
{
    /// <summary>The event's type (e.g. <c>session.idle</c>).</summary>
    public string Type { get; init; } = "";
    /// <summary>Its data, when it is JSON.</summary>
    public JsonElement? Data { get; init; }
}

/// <summary>A viewport size.</summary>
public sealed record PreviewSize
{
    /// <summary>Width in pixels.</summary>
    public int Width { get; init; }
    /// <summary>Height in pixels.</summary>
    public int Height { get; init; }
}

/// <summary>The raw preview transport, for embedding a viewer of one's own.</summary>
public sealed record PreviewConnection
{
    /// <summary>The preview's WebSocket.</summary>
    public string? WsUrl { get; init; }
    /// <summary>Starts the preview backend.</summary>
    public string? StartUrl { get; init; }
    /// <summary>Navigates the browser.</summary>
    public string? NavigateUrl { get; init; }
    /// <summary>Resizes the viewport.</summary>
    public string? ResizeUrl { get; init; }
    /// <summary>The standalone viewer page.</summary>
    public string? ViewerUrl { get; init; }
}

/// <summary>Who takes control of the browser, and for how long.</summary>
public sealed record ControlOptions
{
    /// <summary>Who (e.g. an operator's e-mail).</summary>
    public string? Controller { get; init; }
    /// <summary>How long the lease lasts.</summary>
    public long? LeaseMs { get; init; }
}

/// <summary>A request for a human operator.</summary>
public sealed record HumanHandoffRequest
{
    /// <summary><c>mfa captcha approval login_failed ambiguous_ui file_download custom</c>.</summary>
    public string Reason { get; init; } = "custom";
    /// <summary>What the human should do.</summary>
    public string? Message { get; init; }
    /// <summary>The prompt that resumes the agent afterwards.</summary>
    public string? ResumePrompt { get; init; }
    /// <summary>When the request lapses.</summary>
    public long? ExpiresInMs { get; init; }
}

/// <summary>A human accepting a handoff.</summary>
public sealed record HumanHandoffAcceptOptions
{
    /// <summary>Who accepts it.</summary>
    public string? Controller { get; init; }
    /// <summary>How long the control lease lasts.</summary>
    public long? LeaseMs { get; init; }
}

/// <summary>A human completing a handoff.</summary>
public sealed record HumanHandoffCompleteOptions
{
    /// <summary>A note on what was done.</summary>
    public string? Note { get; init; }
    /// <summary><c>ai</c> or <c>shared</c>.</summary>
    public string? ReturnControlTo { get; init; }
    /// <summary>Run the request's resume prompt.</summary>
    public bool? RunResumePrompt { get; init; }
}
