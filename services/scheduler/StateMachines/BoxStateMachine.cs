using Boxes.Contracts;
using Boxes.Scheduler.Persistence;
using Boxes.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Boxes.Scheduler.StateMachines;

/// <summary>
/// The life of one box: queued → scheduling → starting → ready → ending → ended, or failed.
/// Transitions only record effects on the saga (events to append, timers, commands to workers); the
/// repository makes them durable together. Messages a state does not expect are ignored, which is
/// what makes redelivery harmless.
/// </summary>
public sealed class BoxStateMachine : MassTransitStateMachine<BoxState>
{
    public State Scheduling { get; private set; } = null!;
    public State Starting { get; private set; } = null!;
    public State Ready { get; private set; } = null!;
    public State Ending { get; private set; } = null!;

    public Event<BoxRequested> Requested { get; private set; } = null!;
    public Event<BoxStopRequested> StopRequested { get; private set; } = null!;
    public Event<BoxStarted> Started { get; private set; } = null!;
    public Event<BoxStartFailed> StartFailed { get; private set; } = null!;
    public Event<BoxStopped> Stopped { get; private set; } = null!;
    public Event<BoxCrashed> Crashed { get; private set; } = null!;
    public Event<BoxReadyTimeoutElapsed> ReadyTimeoutElapsed { get; private set; } = null!;
    public Event<BoxMaxDurationElapsed> MaxDurationElapsed { get; private set; } = null!;
    public Event<BoxStopTimeoutElapsed> StopTimeoutElapsed { get; private set; } = null!;
    public Event<BoxWorkerLost> WorkerLost { get; private set; } = null!;
    public Event<BoxPlacementRetry> PlacementRetry { get; private set; } = null!;

    public BoxStateMachine(IOptions<SchedulerOptions> options)
    {
        var o = options.Value;
        InstanceState(x => x.CurrentState);

        Event(() => Requested, x => x.CorrelateById(m => m.Message.BoxId));
        // A stop can overtake its own request on a busy queue; fault so the retry finds the saga.
        Event(() => StopRequested, x => { x.CorrelateById(m => m.Message.BoxId); x.OnMissingInstance(m => m.Fault()); });
        Event(() => Started, x => { x.CorrelateById(m => m.Message.BoxId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => StartFailed, x => { x.CorrelateById(m => m.Message.BoxId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Stopped, x => { x.CorrelateById(m => m.Message.BoxId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => Crashed, x => { x.CorrelateById(m => m.Message.BoxId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => ReadyTimeoutElapsed, x => { x.CorrelateById(m => m.Message.BoxId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => MaxDurationElapsed, x => { x.CorrelateById(m => m.Message.BoxId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => StopTimeoutElapsed, x => { x.CorrelateById(m => m.Message.BoxId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => WorkerLost, x => { x.CorrelateById(m => m.Message.BoxId); x.OnMissingInstance(m => m.Discard()); });
        Event(() => PlacementRetry, x => { x.CorrelateById(m => m.Message.BoxId); x.OnMissingInstance(m => m.Discard()); });

        Initially(
            When(Requested)
                .Then(ctx =>
                {
                    var s = ctx.Saga;
                    s.OrganizationId = ctx.Message.OrganizationId;
                    s.Kind = ctx.Message.Kind;
                    s.Spec = ctx.Message.Spec;
                    s.CreatedAt = ctx.Message.Timestamp;
                    s.Append(new BoxScheduling(s.CorrelationId, Now));
                    // The ready timeout is a deadline BoxDeadlineSweepJob checks: no per-box timer on the way to ready.
                })
                .ThenAsync(ctx => TryPlace(ctx, o))
                .IfElse(ctx => ctx.Saga.WorkerId is not null,
                    placed => placed.TransitionTo(Starting),
                    waiting => waiting.TransitionTo(Scheduling)));

        During(Scheduling,
            When(PlacementRetry)
                .Then(ctx => ctx.Saga.TimerFired(BoxTimers.PlacementRetry))
                .ThenAsync(ctx => TryPlace(ctx, o))
                .If(ctx => ctx.Saga.WorkerId is not null, placed => placed.TransitionTo(Starting)),
            When(ReadyTimeoutElapsed)
                .Then(ctx => ctx.Saga.TimerFired(BoxTimers.ReadyTimeout))
                .Then(ctx => Fail(ctx.Saga, "SCHEDULING_FAILED",
                    $"{EndReasons.SchedulingTimeout}: no worker could take the box within {o.ReadyTimeout.TotalSeconds:0.#} s"))
                .Finalize(),
            When(StopRequested)
                .Then(ctx => End(ctx.Saga, EndReasons.ClosedByOwner))
                .Finalize());

        During(Starting,
            When(Started)
                .Then(ctx =>
                {
                    var s = ctx.Saga;
                    s.Endpoint = ctx.Message.Endpoint;
                    s.Append(new BoxReady(s.CorrelationId, ctx.Message.WorkerId, ctx.Message.Endpoint, Now));
                    // The deadline sweep ends it then (no per-box Quartz job on the way to ready).
                    if (s.Spec.MaxDurationMs > 0) s.ExpiresAt = Now.AddMilliseconds(s.Spec.MaxDurationMs);
                })
                .TransitionTo(Ready),
            When(StartFailed)
                .Then(ctx => Fail(ctx.Saga, "START_FAILED", $"{EndReasons.StartFailed}: {ctx.Message.Reason}"))
                .Finalize(),
            When(ReadyTimeoutElapsed)
                .Then(ctx => ctx.Saga.TimerFired(BoxTimers.ReadyTimeout))
                .Then(ctx => Fail(ctx.Saga, "SCHEDULING_FAILED",
                    $"{EndReasons.SchedulingTimeout}: worker {ctx.Saga.WorkerId} did not start the box within {o.ReadyTimeout.TotalSeconds:0.#} s"))
                .Finalize(),
            When(StopRequested).Then(ctx => BeginEnding(ctx.Saga, EndReasons.ClosedByOwner)).TransitionTo(Ending),
            When(Crashed).Then(ctx => Fail(ctx.Saga, "BOX_CRASHED", $"{EndReasons.ProcessCrashed}: {ctx.Message.Reason}")).Finalize(),
            When(WorkerLost, ctx => ctx.Message.WorkerId == ctx.Saga.WorkerId)
                .Then(ctx => Fail(ctx.Saga, "WORKER_LOST", $"{EndReasons.WorkerLost}: worker {ctx.Message.WorkerId} stopped heartbeating")).Finalize());

        During(Ready,
            When(StopRequested).Then(ctx => BeginEnding(ctx.Saga, EndReasons.ClosedByOwner)).TransitionTo(Ending),
            When(MaxDurationElapsed)
                .Then(ctx => ctx.Saga.TimerFired(BoxTimers.MaxDuration))
                .Then(ctx => BeginEnding(ctx.Saga, EndReasons.MaxDurationReached)).TransitionTo(Ending),
            When(Crashed).Then(ctx => Fail(ctx.Saga, "BOX_CRASHED", $"{EndReasons.ProcessCrashed}: {ctx.Message.Reason}")).Finalize(),
            When(WorkerLost, ctx => ctx.Message.WorkerId == ctx.Saga.WorkerId)
                .Then(ctx => Fail(ctx.Saga, "WORKER_LOST", $"{EndReasons.WorkerLost}: worker {ctx.Message.WorkerId} stopped heartbeating")).Finalize());

        During(Ending,
            When(Stopped).Then(ctx => End(ctx.Saga, ctx.Saga.EndReason ?? EndReasons.ClosedByOwner)).Finalize(),
            // Whatever else happens while ending, the box is gone: record it as ended with the reason it was ending for.
            When(Crashed).Then(ctx => End(ctx.Saga, ctx.Saga.EndReason ?? EndReasons.ClosedByOwner)).Finalize(),
            When(WorkerLost, ctx => ctx.Message.WorkerId == ctx.Saga.WorkerId)
                .Then(ctx => End(ctx.Saga, ctx.Saga.EndReason ?? EndReasons.ClosedByOwner)).Finalize(),
            // The worker never confirmed. Record the end, and ask once more in case the first StopBox was lost
            // (commands go out after the commit, so a crash in between drops them): a worker that is still
            // running the box frees it, and one that already has answers with a BoxStopped that is ignored.
            When(StopTimeoutElapsed)
                .Then(ctx => ctx.Saga.TimerFired(BoxTimers.StopTimeout))
                .Then(ctx =>
                {
                    var s = ctx.Saga;
                    var reason = s.EndReason ?? EndReasons.ClosedByOwner;
                    End(s, reason);
                    if (s.WorkerId is { } worker) s.SendToWorker(worker, new StopBox(s.CorrelationId, reason, Now));
                })
                .Finalize());

        OnUnhandledEvent(x => x.Ignore());
    }

    private static DateTimeOffset Now => DateTimeOffset.UtcNow;

    private static async Task TryPlace<T>(BehaviorContext<BoxState, T> ctx, SchedulerOptions o) where T : class
    {
        var s = ctx.Saga;
        var unit = ctx.GetPayload<SchedulerUnitOfWork>();
        var worker = await unit.ChooseWorkerAsync(s, o.WorkerLostAfter, ctx.CancellationToken);
        if (worker is null)
        {
            s.ScheduleTimer(BoxTimers.PlacementRetry, Now + o.PlacementRetryInterval);
            return;
        }
        s.WorkerId = worker;
        s.CancelTimer(BoxTimers.PlacementRetry);
        s.Append(new BoxPlaced(s.CorrelationId, worker, Now));
        s.SendToWorker(worker, new StartBox(s.CorrelationId, s.OrganizationId, s.Kind, s.Spec, Now));
    }

    private static void BeginEnding(BoxState s, string reason)
    {
        s.EndReason = reason;
        s.Append(new BoxEnding(s.CorrelationId, reason, Now));
        CancelAllTimers(s);
        s.EndingSince = Now; // the deadline sweep gives the worker StopTimeout to confirm
        if (s.WorkerId is { } worker) s.SendToWorker(worker, new StopBox(s.CorrelationId, reason, Now));
    }

    private static void End(BoxState s, string reason)
    {
        s.EndReason = reason;
        s.Endpoint = null;
        s.Append(new BoxEnded(s.CorrelationId, reason, Now));
        CancelAllTimers(s);
    }

    private static void Fail(BoxState s, string code, string reason)
    {
        s.EndReason = reason;
        s.Endpoint = null;
        s.Append(new BoxFailed(s.CorrelationId, code, reason, Now));
        CancelAllTimers(s);
        // Whatever the worker has of this box (a late start, a crashed session's leftovers) must go.
        if (s.WorkerId is { } worker) s.SendToWorker(worker, new StopBox(s.CorrelationId, reason, Now));
    }

    private static void CancelAllTimers(BoxState s)
    {
        foreach (var timer in BoxTimers.All) s.CancelTimer(timer);
    }
}
