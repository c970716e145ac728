using Boxes.Contracts;
using MassTransit;

namespace Boxes.Scheduler.StateMachines;

/// <summary>
/// The saga's state for one box (a row of scheduler.box_sagas), plus the effects its last transition
/// produced. The repository commits the row, the stored events and the timers in one transaction, and
/// sends the commands only after that commit.
/// </summary>
public sealed class BoxState : SagaStateMachineInstance
{
    public Guid CorrelationId { get; set; }
    public string CurrentState { get; set; } = "Initial";
    /// <summary>Optimistic concurrency: the row is updated only if it still has the version it was read with.</summary>
    public int Version { get; set; }
    public Guid OrganizationId { get; set; }
    public string Kind { get; set; } = BoxKinds.Browser;
    public BoxSpec Spec { get; set; } = new();
    public string? WorkerId { get; set; }
    public string? Endpoint { get; set; }
    public string? EndReason { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    /// <summary>When a ready box reaches its max duration (checked by the deadline sweep).</summary>
    public DateTimeOffset? ExpiresAt { get; set; }
    /// <summary>When the box began ending (the deadline sweep gives its worker StopTimeout to confirm).</summary>
    public DateTimeOffset? EndingSince { get; set; }
    /// <summary>Timers scheduled in Quartz for this box (persisted), so cancelling skips the ones that were never set.</summary>
    public HashSet<string> ScheduledTimers { get; set; } = new(StringComparer.Ordinal);

    public List<object> PendingEvents { get; } = [];
    public List<(string Timer, DateTimeOffset? DueAt)> PendingTimers { get; } = [];
    public List<(string Queue, object Command)> PendingCommands { get; } = [];

    /// <summary>The message being handled, whose id seeds the ids of the events it causes.</summary>
    public Guid CausationId { get; set; }

    private (string State, string? WorkerId, string? Endpoint, string? EndReason, DateTimeOffset? ExpiresAt, DateTimeOffset? EndingSince)? _loaded;

    /// <summary>Remembers the state as read from the row, so that a message that changed nothing writes nothing.</summary>
    public BoxState MarkLoaded()
    {
        _loaded = (CurrentState, WorkerId, Endpoint, EndReason, ExpiresAt, EndingSince);
        return this;
    }

    public bool IsUnchangedSinceLoad =>
        _loaded == (CurrentState, WorkerId, Endpoint, EndReason, ExpiresAt, EndingSince)
        && PendingEvents.Count == 0 && PendingTimers.Count == 0 && PendingCommands.Count == 0;

    public void Append(object @event) => PendingEvents.Add(@event);
    public void ScheduleTimer(string timer, DateTimeOffset dueAt) => PendingTimers.Add((timer, dueAt));
    public void CancelTimer(string timer) => PendingTimers.Add((timer, null));
    /// <summary>The timer's job ran (its message is being handled): there is nothing left in Quartz to cancel.</summary>
    public void TimerFired(string timer) => ScheduledTimers.Remove(timer);
    public void SendToWorker(string workerId, object command) => PendingCommands.Add((WorkerQueues.For(workerId), command));

    public void ClearEffects()
    {
        PendingEvents.Clear();
        PendingTimers.Clear();
        PendingCommands.Clear();
    }
}
