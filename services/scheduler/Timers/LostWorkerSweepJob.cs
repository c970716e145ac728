using Boxes.Contracts;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;
using Quartz;

namespace Boxes.Scheduler.Timers;

/// <summary>
/// Marks workers that stopped heartbeating as lost and tells each of their boxes' sagas. Runs on one
/// scheduler at a time (clustered Quartz, no concurrent execution).
/// </summary>
[DisallowConcurrentExecution]
public sealed class LostWorkerSweepJob(NpgsqlDataSource dataSource, IBus bus, IOptions<SchedulerOptions> options, ILogger<LostWorkerSweepJob> logger) : IJob
{
    public static readonly JobKey Key = new("lost-worker-sweep", "scheduler");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        // The workers this run marks lost come from the CTE's RETURNING: a data-modifying CTE's changes are
        // invisible to the rest of its statement, so reading scheduler.workers for lost_at would miss them
        // until the next run. Workers marked earlier are swept again each run until their sagas have moved on
        // (a repeated BoxWorkerLost finds the saga finished and is ignored). Rows are locked in worker_id
        // order, the order placement locks them in, so the two cannot deadlock.
        var lost = new List<(Guid BoxId, string WorkerId)>();
        await using (var conn = await dataSource.OpenConnectionAsync(cancellationToken))
        await using (var cmd = new NpgsqlCommand("""
            WITH newly_lost AS (
                UPDATE scheduler.workers SET lost_at = now()
                WHERE worker_id IN (
                    SELECT worker_id FROM scheduler.workers
                    WHERE lost_at IS NULL AND last_seen < now() - $1::interval
                    ORDER BY worker_id FOR UPDATE)
                RETURNING worker_id),
            lost AS (
                SELECT worker_id FROM newly_lost
                UNION SELECT worker_id FROM scheduler.workers WHERE lost_at IS NOT NULL)
            SELECT s.correlation_id, s.worker_id FROM scheduler.box_sagas s
            WHERE s.current_state IN ('Starting', 'Ready', 'Ending')
              AND s.worker_id IN (SELECT worker_id FROM lost)
            """, conn))
        {
            cmd.Parameters.Add(new() { Value = options.Value.WorkerLostAfter });
            await using var r = await cmd.ExecuteReaderAsync(cancellationToken);
            while (await r.ReadAsync(cancellationToken)) lost.Add((r.GetGuid(0), r.GetString(1)));
        }
        foreach (var (boxId, workerId) in lost)
        {
            logger.LogWarning("Worker {WorkerId} is lost; failing box {BoxId}", workerId, boxId);
            await bus.Publish(new BoxWorkerLost(boxId, workerId, DateTimeOffset.UtcNow), cancellationToken);
        }
    }
}
