namespace Boxes.Scheduler.StateMachines;

/// <summary>The timers a box can have pending; each is a Quartz job keyed by timer and box id.</summary>
public static class BoxTimers
{
    /// <summary>Not a per-box Quartz job any more (see ReadyTimeoutSweepJob); kept so that jobs stored by earlier versions still fire.</summary>
    public const string ReadyTimeout = "ready-timeout";
    public const string MaxDuration = "max-duration";
    public const string StopTimeout = "stop-timeout";
    public const string PlacementRetry = "placement-retry";

    public static readonly string[] All = [ReadyTimeout, MaxDuration, StopTimeout, PlacementRetry];
}
