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
        var lost = new List<(Guid BoxId, string WorkerId)>();
        await using (var conn = await dataSource.OpenConnectionAsync(cancellationToken))
        await using (var cmd = new NpgsqlCommand("""
            WITH lost AS (
                UPDATE scheduler.workers SET lost_at = now()
                WHERE lost_at IS NULL AND last_seen < now() - $1::interval
                RETURNING worker_id)
            SELECT s.correlation_id, s.worker_id FROM scheduler.box_sagas s
            WHERE s.current_state IN ('Starting', 'Ready', 'Ending')
              AND s.worker_id IN (SELECT worker_id FROM scheduler.workers WHERE lost_at IS NOT NULL)
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
