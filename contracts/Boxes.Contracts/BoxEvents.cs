namespace Boxes.Contracts;

// Events stored in a box's stream ("box-{BoxId}") and relayed to the bus from the event store.
// A box's status is a fold of these (see BoxView in Boxes.Contracts.Projections).

/// <summary>A client asked for a box. Appended by the API; the box is <c>queued</c>.</summary>
public sealed record BoxRequested(Guid BoxId, Guid OrganizationId, string Kind, BoxSpec Spec, DateTimeOffset Timestamp);

/// <summary>The scheduler took the box and is looking for a worker: <c>scheduling</c>.</summary>
public sealed record BoxScheduling(Guid BoxId, DateTimeOffset Timestamp);

/// <summary>The scheduler placed the box on a worker and asked it to start: <c>starting</c>.</summary>
public sealed record BoxPlaced(Guid BoxId, string WorkerId, DateTimeOffset Timestamp);

/// <summary>The worker reported the box's endpoint: <c>ready</c>. <paramref name="Endpoint"/> is the worker-local data-plane address (CDP WebSocket for browsers).</summary>
public sealed record BoxReady(Guid BoxId, string WorkerId, string Endpoint, DateTimeOffset Timestamp);

/// <summary>The owner asked to close the box (appended by the API).</summary>
public sealed record BoxStopRequested(Guid BoxId, DateTimeOffset Timestamp);

/// <summary>The box is being torn down: <c>ending</c>.</summary>
public sealed record BoxEnding(Guid BoxId, string EndReason, DateTimeOffset Timestamp);

/// <summary>The box is gone and its resources freed: <c>ended</c>.</summary>
public sealed record BoxEnded(Guid BoxId, string EndReason, DateTimeOffset Timestamp);

/// <summary>The box failed before it ended: <c>failed</c>. <paramref name="Code"/> is an API error code where one applies (e.g. SCHEDULING_FAILED).</summary>
public sealed record BoxFailed(Guid BoxId, string Code, string Reason, DateTimeOffset Timestamp);

/// <summary>A sandbox's processes were frozen, memory kept: <c>paused</c>. Metering stops here.</summary>
public sealed record BoxPaused(Guid BoxId, DateTimeOffset Timestamp);

/// <summary>A paused sandbox runs again: <c>ready</c>. Metering resumes here.</summary>
public sealed record BoxResumed(Guid BoxId, DateTimeOffset Timestamp);

/// <summary>
/// An artifact of the box was stored (appended by the artifacts service): a workspace checkpoint, a recording, a
/// screenshot. <paramref name="Kind"/> is one of <see cref="ArtifactKinds"/>.
/// </summary>
public sealed record ArtifactCreated(
    Guid BoxId, Guid ArtifactId, Guid OrganizationId, string Kind, string ContentType, long SizeBytes, string Sha256, DateTimeOffset Timestamp);

public static class ArtifactKinds
{
    public const string Checkpoint = "checkpoint";
    public const string Screenshot = "screenshot";
    public const string Recording = "recording";
    public const string Log = "log";
    public const string File = "file";
}

/// <summary>Why a box ended or failed, as it appears in <c>endReason</c>.</summary>
public static class EndReasons
{
    public const string ClosedByOwner = "closed_by_owner";
    public const string MaxDurationReached = "max_duration_reached";
    public const string SchedulingTimeout = "scheduling_timeout";
    public const string WorkerLost = "worker_lost";
    public const string ProcessCrashed = "process_crashed";
    public const string StartFailed = "start_failed";
}
