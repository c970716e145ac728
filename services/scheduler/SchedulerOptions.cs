namespace Boxes.Scheduler;

/// <summary>Timings of the box lifecycle (config section <c>Scheduler</c>).</summary>
public sealed class SchedulerOptions
{
    /// <summary>How long a box may take from request to ready before it fails with SCHEDULING_FAILED.</summary>
    public TimeSpan ReadyTimeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>A worker silent for this long is lost, and so are its boxes.</summary>
    public TimeSpan WorkerLostAfter { get; set; } = TimeSpan.FromSeconds(10);
    /// <summary>How long a worker has to confirm a stop before the box is recorded as ended anyway.</summary>
    public TimeSpan StopTimeout { get; set; } = TimeSpan.FromSeconds(20);
    /// <summary>How often a box that found no room looks again.</summary>
    public TimeSpan PlacementRetryInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>How often the deadline sweep runs (ready timeout, max duration, stop timeout): a deadline fires at most this late.</summary>
    public TimeSpan DeadlineSweepInterval { get; set; } = TimeSpan.FromSeconds(1);
    /// <summary>How often the lost-worker sweep runs.</summary>
    public TimeSpan LostWorkerSweepInterval { get; set; } = TimeSpan.FromSeconds(2);
}
