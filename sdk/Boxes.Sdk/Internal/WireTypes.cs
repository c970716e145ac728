using System.Text.Json;

namespace Boxes.Sdk.Internal;

/// <summary>The API's error body: <c>{"error": {code, message, requiredPlan, currentPlan}}</c>.</summary>
internal sealed record ErrorEnvelope
{
    public ErrorBody? Error { get; init; }
}

internal sealed record ErrorBody
{
    public string? Code { get; init; }
    public string? Message { get; init; }
    public string? RequiredPlan { get; init; }
    public string? CurrentPlan { get; init; }
}

internal sealed record ExecRequest
{
    public string Command { get; init; } = "";
    public IReadOnlyList<string>? Args { get; init; }
    public string? Cwd { get; init; }
    public IReadOnlyDictionary<string, string>? Env { get; init; }
    public string? Stdin { get; init; }
    public int? TimeoutMs { get; init; }
}

internal sealed record RunCodeRequest
{
    public string Code { get; init; } = "";
    public int? TimeoutMs { get; init; }
}

internal sealed record FsListResult
{
    public IReadOnlyList<FsEntry> Entries { get; init; } = [];
}

internal sealed record WebhookListResult
{
    public IReadOnlyList<Webhook> Items { get; init; } = [];
}

internal sealed record PromptRequest
{
    public string Prompt { get; init; } = "";
    public string? Agent { get; init; }
    public bool? NoReply { get; init; }
}

internal sealed record NavigateRequest
{
    public string Url { get; init; } = "";
}

internal sealed record ControlRequest
{
    public string Mode { get; init; } = "";
    public string? Controller { get; init; }
    public long? LeaseMs { get; init; }
}

internal sealed record ViewerUrlResult
{
    public string? Url { get; init; }
    public string? ViewerUrl { get; init; }
}

/// <summary>An empty JSON object for POSTs that take no body.</summary>
internal sealed record EmptyBody;
