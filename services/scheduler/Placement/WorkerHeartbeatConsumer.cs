using Boxes.Contracts;
using MassTransit;
using Npgsql;

namespace Boxes.Scheduler.Placement;

/// <summary>Keeps scheduler.workers current from heartbeats. A worker that comes back after being lost is live again.</summary>
public sealed class WorkerHeartbeatConsumer(NpgsqlDataSource dataSource) : IConsumer<WorkerHeartbeat>
{
    public async Task Consume(ConsumeContext<WorkerHeartbeat> context)
    {
        var h = context.Message;
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO scheduler.workers (worker_id, address, region, kinds, capacity, running, last_seen, lost_at)
            VALUES ($1, $2, $3, $4, $5, $6, now(), NULL)
            ON CONFLICT (worker_id) DO UPDATE SET address = excluded.address, region = excluded.region, kinds = excluded.kinds,
                capacity = excluded.capacity, running = excluded.running, last_seen = now(), lost_at = NULL
            """);
        cmd.Parameters.Add(new() { Value = h.WorkerId });
        cmd.Parameters.Add(new() { Value = h.Address });
        cmd.Parameters.Add(new() { Value = h.Region });
        cmd.Parameters.Add(new() { Value = h.Kinds.ToArray() });
        cmd.Parameters.Add(new() { Value = h.Capacity });
        cmd.Parameters.Add(new() { Value = h.Running });
        await cmd.ExecuteNonQueryAsync(context.CancellationToken);
    }
}
