using Boxes.Contracts;
using Boxes.Scheduler.StateMachines;
using MassTransit;
using Quartz;

namespace Boxes.Scheduler.Timers;

/// <summary>Fires one of a box's timers by publishing its message to the box saga.</summary>
public sealed class BoxTimerJob(IBus bus) : IJob
{
    public const string BoxIdKey = "boxId";
    public const string TimerKey = "timer";
    public const string Group = "box-timers";

    public static JobKey KeyFor(string timer, Guid boxId) => new($"{timer}:{boxId:N}", Group);

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var boxId = Guid.Parse(context.MergedJobDataMap.GetString(BoxIdKey)!);
        var now = DateTimeOffset.UtcNow;
        object message = context.MergedJobDataMap.GetString(TimerKey) switch
        {
            BoxTimers.ReadyTimeout => new BoxReadyTimeoutElapsed(boxId, now),
            BoxTimers.MaxDuration => new BoxMaxDurationElapsed(boxId, now),
            BoxTimers.StopTimeout => new BoxStopTimeoutElapsed(boxId, now),
            BoxTimers.PlacementRetry => new BoxPlacementRetry(boxId, now),
            var other => throw new InvalidOperationException($"Unknown box timer '{other}'"),
        };
        await bus.Publish(message, message.GetType(), cancellationToken);
    }
}
