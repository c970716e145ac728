using Boxes.Contracts;
using Boxes.Scheduler.StateMachines;
using Boxes.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;
using Quartz;

namespace Boxes.Scheduler.Timers;

/// <summary>
/// The ready timeout: one recurring job (clustered Quartz, one scheduler at a time) instead of one Quartz job per
/// box. Almost every box is ready well within its timeout, so scheduling and then cancelling a job for each cost
/// two Quartz operations (a dozen statements under Quartz's global lock) on the path from create to ready for
/// nothing. This sweep finds the boxes still scheduling or starting past their ready timeout and tells their
/// sagas, at most one sweep interval late.
/// </summary>
[DisallowConcurrentExecution]
public sealed class ReadyTimeoutSweepJob(NpgsqlDataSource dataSource, IBus bus, IOptions<SchedulerOptions> options) : IJob
{
    public static readonly JobKey Key = new("ready-timeout-sweep", "scheduler");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var overdue = new List<Guid>();
        await using (var cmd = dataSource.CreateCommand("""
            SELECT correlation_id FROM scheduler.box_sagas
            WHERE current_state IN ('Scheduling', 'Starting') AND created_at < now() - $1::interval
            """))
        {
            cmd.Parameters.Add(new() { Value = options.Value.ReadyTimeout });
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken)) overdue.Add(r.GetGuid(0));
        }
        foreach (var boxId in overdue)
        {
            // One message id per box: a sweep repeated before the saga moved on yields the same id, and the saga
            // derives the same event ids from it (a duplicate, ignored), never a second failure.
            await bus.Publish(new BoxReadyTimeoutElapsed(boxId, DateTimeOffset.UtcNow),
                ctx => ctx.MessageId = StoredEvents.DeriveId(boxId, BoxTimers.ReadyTimeout), cancellationToken);
        }
    }
}
