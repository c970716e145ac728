namespace Boxes.Contracts;

// Timers fired by the scheduler's Quartz jobs, delivered to the box saga over the bus.

/// <summary>The box was not ready within its ready timeout.</summary>
public sealed record BoxReadyTimeoutElapsed(Guid BoxId, DateTimeOffset Timestamp);

/// <summary>The box reached its maxDurationMs.</summary>
public sealed record BoxMaxDurationElapsed(Guid BoxId, DateTimeOffset Timestamp);

/// <summary>The worker running the box stopped heartbeating.</summary>
public sealed record BoxWorkerLost(Guid BoxId, string WorkerId, DateTimeOffset Timestamp);

/// <summary>Retry placement of a box that found no worker with room.</summary>
public sealed record BoxPlacementRetry(Guid BoxId, DateTimeOffset Timestamp);

/// <summary>A worker did not confirm a stop in time; the box is recorded as ended anyway.</summary>
public sealed record BoxStopTimeoutElapsed(Guid BoxId, DateTimeOffset Timestamp);
