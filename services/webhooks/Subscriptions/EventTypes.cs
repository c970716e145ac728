using Boxes.Contracts;

namespace Boxes.Webhooks.Subscriptions;

/// <summary>The webhook event types of API.md and docs/INTERNAL.md, and which box event becomes which.</summary>
public static class EventTypes
{
    public const string Test = "webhook.test";
    public const string ArtifactCreated = "artifact.created";

    /// <summary>What an endpoint may subscribe to. handoff.* are accepted although nothing emits them yet.</summary>
    public static readonly IReadOnlySet<string> Known = new HashSet<string>(StringComparer.Ordinal)
    {
        "session.queued", "session.ready", "session.ended", "session.failed",
        "sandbox.queued", "sandbox.ready", "sandbox.ended", "sandbox.failed", "sandbox.paused", "sandbox.resumed",
        ArtifactCreated, "handoff.requested", "handoff.completed", Test,
    };

    /// <summary>
    /// The webhook type a box event becomes, or null when it has none (a browser has no pause). Browsers are
    /// <c>session.*</c>, sandboxes <c>sandbox.*</c>.
    /// </summary>
    public static string? For(object boxEvent, string kind)
    {
        var prefix = kind == BoxKinds.Sandbox ? "sandbox" : "session";
        return boxEvent switch
        {
            BoxRequested => $"{prefix}.queued",
            BoxReady => $"{prefix}.ready",
            BoxEnded => $"{prefix}.ended",
            BoxFailed => $"{prefix}.failed",
            BoxPaused when kind == BoxKinds.Sandbox => "sandbox.paused",
            BoxResumed when kind == BoxKinds.Sandbox => "sandbox.resumed",
            Contracts.ArtifactCreated => ArtifactCreated,
            _ => null,
        };
    }
}
