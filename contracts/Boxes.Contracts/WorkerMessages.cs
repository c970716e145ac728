namespace Boxes.Contracts;

// Control-plane messages between the scheduler and workers. These travel on the bus only; the
// scheduler turns what workers report into stored box events.

/// <summary>Sent to one worker's queue (<see cref="WorkerQueues.For"/>): start this box.</summary>
public sealed record StartBox(Guid BoxId, Guid OrganizationId, string Kind, BoxSpec Spec, DateTimeOffset Timestamp);

/// <summary>Sent to the worker that runs the box: stop it and free everything it holds.</summary>
public sealed record StopBox(Guid BoxId, string Reason, DateTimeOffset Timestamp);

/// <summary>Published by a worker when a box it was asked to start is running.</summary>
public sealed record BoxStarted(Guid BoxId, string WorkerId, string Endpoint, DateTimeOffset Timestamp);

/// <summary>Published by a worker when it could not start a box.</summary>
public sealed record BoxStartFailed(Guid BoxId, string WorkerId, string Reason, DateTimeOffset Timestamp);

/// <summary>Published by a worker when a box it ran has been stopped and cleaned up.</summary>
public sealed record BoxStopped(Guid BoxId, string WorkerId, DateTimeOffset Timestamp);

/// <summary>Published by a worker when a box's process died without being asked to.</summary>
public sealed record BoxCrashed(Guid BoxId, string WorkerId, string Reason, DateTimeOffset Timestamp);

/// <summary>Published by every worker every few seconds: who it is, where its data plane listens, and how much room it has.</summary>
public sealed record WorkerHeartbeat(
    string WorkerId,
    string Address,
    string Region,
    IReadOnlyList<string> Kinds,
    int Capacity,
    int Running,
    IReadOnlyList<Guid> Boxes,
    DateTimeOffset Timestamp);

public static class WorkerQueues
{
    /// <summary>The queue a worker consumes its StartBox/StopBox commands from.</summary>
    public static string For(string workerId) => $"worker-{workerId}";
}
