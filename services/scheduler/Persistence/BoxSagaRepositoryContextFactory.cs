using Boxes.Contracts;
using Boxes.Scheduler.StateMachines;
using MassTransit;
using MassTransit.Middleware;
using MassTransit.Saga;
using Npgsql;
using Quartz;

namespace Boxes.Scheduler.Persistence;

/// <summary>
/// Box sagas in PostgreSQL. Each message is handled in one transaction that first takes the box
/// stream's lock (so two scheduler processes handling messages for one box run one after the other,
/// and the events they append keep their order in the log), then loads the saga row FOR UPDATE, runs
/// the state machine, writes row + events + timers, and commits. Commands to workers are sent after the
/// commit: a rolled-back transition never reaches a worker; a crash right after the commit is caught by
/// the box's ready or stop timeout. Proven by SchedulerReplicaTests.Two_schedulers_given_the_same_request_at_once_place_the_box_once.
/// </summary>
public sealed class BoxSagaRepositoryContextFactory(
    NpgsqlDataSource dataSource,
    EventStore.EventStore store,
    ISchedulerFactory schedulerFactory,
    ISagaConsumeContextFactory<SchedulerUnitOfWork, BoxState> factory,
    ILogger<BoxSagaRepositoryContextFactory> logger)
    : ISagaRepositoryContextFactory<BoxState>, ILoadSagaRepositoryContextFactory<BoxState>, IQuerySagaRepositoryContextFactory<BoxState>
{
    public async Task Send<T>(ConsumeContext<T> context, IPipe<SagaRepositoryContext<BoxState, T>> next) where T : class
    {
        var boxId = context.CorrelationId
            ?? throw new SagaException("A box saga message must carry the box id as its correlation id", typeof(BoxState), typeof(T));
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var quartz = await schedulerFactory.GetScheduler(context.CancellationToken);

        await using var connection = await dataSource.OpenConnectionAsync(context.CancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(context.CancellationToken);
        await Boxes.EventStore.EventStore.LockStreamAsync(transaction, Streams.ForBox(boxId), context.CancellationToken);

        var unit = new SchedulerUnitOfWork(connection, transaction, store, quartz, logger);
        var repositoryContext = new BoxSagaRepositoryContext<T>(unit, context, factory);
        // The enlistment must wrap both the scheduling calls and the commit, and end after the commit
        // so Quartz signals its own threads once the new triggers are visible.
        TimeSpan handled;
        using (quartz.EnlistTransaction(transaction))
        {
            await next.Send(repositoryContext);
            handled = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            await transaction.CommitAsync(context.CancellationToken);
        }
        logger.LogDebug("{Message} for box {BoxId}: handled in {HandledMs:0.0} ms, committed at {CommittedMs:0.0} ms; sent {SentAgo:0.0} ms ago",
            typeof(T).Name, boxId, handled.TotalMilliseconds, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds,
            context.SentTime is { } sent ? (DateTime.UtcNow - sent).TotalMilliseconds : -1);

        foreach (var saga in repositoryContext.Touched)
        {
            foreach (var (queue, command) in saga.PendingCommands)
            {
                var endpoint = await context.GetSendEndpoint(new Uri($"queue:{queue}"));
                await endpoint.Send(command, command.GetType(), context.CancellationToken);
            }
            saga.ClearEffects();
        }
    }

    public Task SendQuery<T>(ConsumeContext<T> context, ISagaQuery<BoxState> query, IPipe<SagaRepositoryQueryContext<BoxState, T>> next)
        where T : class =>
        throw new NotSupportedException("Box sagas are correlated by box id only; no message is correlated by query.");

    public async Task<T> Execute<T>(Func<LoadSagaRepositoryContext<BoxState>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var unit = new SchedulerUnitOfWork(connection, transaction, store, await schedulerFactory.GetScheduler(cancellationToken), logger);
        var result = await asyncMethod(new LoadContext(unit, cancellationToken));
        await transaction.RollbackAsync(cancellationToken);
        return result;
    }

    public Task<T> Execute<T>(Func<QuerySagaRepositoryContext<BoxState>, Task<T>> asyncMethod, CancellationToken cancellationToken = default)
        where T : class =>
        throw new NotSupportedException("Box sagas are correlated by box id only; query them through the scheduler's tables.");

    public void Probe(ProbeContext context) => context.Add("persistence", "postgresql");

    private sealed class LoadContext(SchedulerUnitOfWork unit, CancellationToken ct) : BasePipeContext(ct), LoadSagaRepositoryContext<BoxState>
    {
        public async Task<BoxState> Load(Guid correlationId) => (await unit.LoadForUpdateAsync(correlationId, CancellationToken))!;
    }
}
