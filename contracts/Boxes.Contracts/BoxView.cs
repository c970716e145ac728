namespace Boxes.Contracts;

public static class BoxStatuses
{
    public const string Queued = "queued";
    public const string Scheduling = "scheduling";
    public const string Starting = "starting";
    public const string Ready = "ready";
    public const string Paused = "paused";
    public const string Ending = "ending";
    public const string Ended = "ended";
    public const string Failed = "failed";

    public static bool IsTerminal(string status) => status is Ended or Failed;
}

/// <summary>
/// A box's current state, folded from its stream. Pure: no I/O, so the API, tests and projections
/// share one definition of what a sequence of events means.
/// </summary>
public sealed record BoxView
{
    public Guid Id { get; init; }
    public Guid OrganizationId { get; init; }
    public string Kind { get; init; } = BoxKinds.Browser;
    public string Status { get; init; } = BoxStatuses.Queued;
    public BoxSpec Spec { get; init; } = new();
    public DateTimeOffset CreatedAt { get; init; }
    public DateTimeOffset? ReadyAt { get; init; }
    public DateTimeOffset? EndedAt { get; init; }
    public string? EndReason { get; init; }
    public string? FailureCode { get; init; }
    public string? WorkerId { get; init; }
    public string? Endpoint { get; init; }
    /// <summary>When the box was last paused, while it is paused.</summary>
    public DateTimeOffset? PausedAt { get; init; }
    /// <summary>Artifacts stored for the box, oldest first.</summary>
    public IReadOnlyList<ArtifactInfo> Artifacts { get; init; } = [];
    public long Version { get; init; }

    public DateTimeOffset? ExpiresAt => Spec.MaxDurationMs > 0
        ? (ReadyAt ?? CreatedAt).AddMilliseconds(Spec.MaxDurationMs)
        : null;

    public static BoxView? Fold(IEnumerable<object> events)
    {
        BoxView? view = null;
        foreach (var e in events) view = Apply(view, e);
        return view;
    }

    /// <summary>Applies one event. Events arriving after a terminal state change nothing.</summary>
    public static BoxView? Apply(BoxView? view, object @event)
    {
        if (@event is BoxRequested r)
        {
            return view ?? new BoxView
            {
                Id = r.BoxId, OrganizationId = r.OrganizationId, Kind = r.Kind, Spec = r.Spec,
                CreatedAt = r.Timestamp, Status = BoxStatuses.Queued, Version = 1,
            };
        }
        if (view is null) return null;
        var next = view with { Version = view.Version + 1 };
        // An artifact can land after the end (the final checkpoint of a non-ephemeral sandbox).
        if (@event is ArtifactCreated a)
            return next with { Artifacts = [.. view.Artifacts, new ArtifactInfo(a.ArtifactId, a.Kind, a.ContentType, a.SizeBytes, a.Timestamp)] };
        if (BoxStatuses.IsTerminal(view.Status)) return next;
        return @event switch
        {
            BoxScheduling => view.Status == BoxStatuses.Queued ? next with { Status = BoxStatuses.Scheduling } : next,
            BoxPlaced p => next with { Status = BoxStatuses.Starting, WorkerId = p.WorkerId },
            BoxReady rd => next with { Status = BoxStatuses.Ready, WorkerId = rd.WorkerId, Endpoint = rd.Endpoint, ReadyAt = rd.Timestamp },
            BoxPaused p => view.Status == BoxStatuses.Ready ? next with { Status = BoxStatuses.Paused, PausedAt = p.Timestamp } : next,
            BoxResumed => view.Status == BoxStatuses.Paused ? next with { Status = BoxStatuses.Ready, PausedAt = null } : next,
            BoxStopRequested => next with { Status = BoxStatuses.Ending, PausedAt = null },
            BoxEnding en => next with { Status = BoxStatuses.Ending, EndReason = en.EndReason },
            BoxEnded ed => next with { Status = BoxStatuses.Ended, EndReason = ed.EndReason, EndedAt = ed.Timestamp, Endpoint = null },
            BoxFailed f => next with
            {
                Status = BoxStatuses.Failed, EndReason = f.Reason, FailureCode = f.Code, EndedAt = f.Timestamp, Endpoint = null,
            },
            _ => next,
        };
    }
}

/// <summary>An artifact as a box's view lists it.</summary>
public sealed record ArtifactInfo(Guid Id, string Kind, string ContentType, long SizeBytes, DateTimeOffset CreatedAt);
