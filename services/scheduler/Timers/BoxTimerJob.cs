using Boxes.Contracts;
using Boxes.Scheduler.StateMachines;
using Boxes.ServiceDefaults;
using MassTransit;
using Quartz;

namespace Boxes.Scheduler.Timers;

/// <summary>
/// Fires one of a box's timers by publishing its message to the box saga. One job type for the four
/// timers (ready timeout, max duration, stop timeout, placement retry): they differ only in the message,
/// and the timer's name travels in the job data.
/// </summary>
/// <remarks>
/// A one-shot trigger whose job throws would be gone with its timer, leaving the box waiting for ever;
/// a publish that fails (broker away) is retried by Quartz from the store instead, on whichever node
/// picks it up. The message id derives from the firing, so a firing Quartz repeats (recovery after a
/// node died mid-job) yields the same message id and the saga derives the same event ids from it.
/// </remarks>
[RetryPolicy(20, "00:00:01", 2, MaxDelay = "00:00:30")]
public sealed class BoxTimerJob(IBus bus) : IJob
{
    public const string BoxIdKey = "boxId";
    public const string TimerKey = "timer";
    public const string Group = "box-timers";

    public static JobKey KeyFor(string timer, Guid boxId) => new($"{timer}:{boxId:N}", Group);

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var boxId = Guid.Parse(context.MergedJobDataMap.GetString(BoxIdKey)!);
        var timer = context.MergedJobDataMap.GetString(TimerKey);
        var now = DateTimeOffset.UtcNow;
        object message = timer switch
        {
            BoxTimers.ReadyTimeout => new BoxReadyTimeoutElapsed(boxId, now),
            BoxTimers.MaxDuration => new BoxMaxDurationElapsed(boxId, now),
            BoxTimers.StopTimeout => new BoxStopTimeoutElapsed(boxId, now),
            BoxTimers.PlacementRetry => new BoxPlacementRetry(boxId, now),
            var other => throw new InvalidOperationException($"Unknown box timer '{other}'"),
        };
        var firing = $"{timer}@{(context.ScheduledFireTimeUtc ?? context.FireTimeUtc).UtcTicks}";
        await bus.Publish(message, message.GetType(), ctx => ctx.MessageId = StoredEvents.DeriveId(boxId, firing), cancellationToken);
    }
}
