namespace Boxes.Scheduler.StateMachines;

/// <summary>
/// A box's timers. Only the placement retry is a Quartz job of its own (keyed by timer and box id); the ready
/// timeout, max duration and stop timeout are deadlines in the saga row that BoxDeadlineSweepJob checks. The
/// names also seed the sweep's message ids, and jobs of every name stored by earlier versions still fire.
/// </summary>
public static class BoxTimers
{
    public const string ReadyTimeout = "ready-timeout";
    public const string MaxDuration = "max-duration";
    public const string StopTimeout = "stop-timeout";
    public const string PlacementRetry = "placement-retry";

    public static readonly string[] All = [ReadyTimeout, MaxDuration, StopTimeout, PlacementRetry];
}
