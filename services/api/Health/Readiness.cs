using System.Collections.Concurrent;
using Boxes.Contracts;
using MassTransit;
using Npgsql;

namespace Boxes.Api.Health;

/// <summary>The last heartbeat seen from each worker, as this API instance heard them, and where its data plane listens.</summary>
public sealed class WorkerHeartbeats(TimeProvider clock)
{
    private readonly ConcurrentDictionary<string, (DateTimeOffset LastSeen, string Address)> _workers = new();

    public void Seen(string workerId, string address) => _workers[workerId] = (clock.GetUtcNow(), address);

    public int LiveWorkers(TimeSpan within) => _workers.Values.Count(w => clock.GetUtcNow() - w.LastSeen < within);

    /// <summary>The data-plane address a worker announced, if it has heartbeated.</summary>
    public string? AddressOf(string workerId) => _workers.TryGetValue(workerId, out var w) ? w.Address : null;
}

public sealed class WorkerHeartbeatTracker(WorkerHeartbeats heartbeats) : IConsumer<WorkerHeartbeat>
{
    public Task Consume(ConsumeContext<WorkerHeartbeat> context)
    {
        heartbeats.Seen(context.Message.WorkerId, context.Message.Address);
        return Task.CompletedTask;
    }
}

public static class Readiness
{
    /// <summary><c>GET /readyz</c>: the database answers, the bus is connected and at least one worker is heartbeating.</summary>
    public static IEndpointRouteBuilder MapReadiness(this IEndpointRouteBuilder app)
    {
        app.MapGet("/readyz", async (NpgsqlDataSource db, IBusControl bus, WorkerHeartbeats workers, CancellationToken ct) =>
        {
            var missing = new List<string>();
            try
            {
                await using var cmd = db.CreateCommand("SELECT 1");
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(2));
                await cmd.ExecuteScalarAsync(timeout.Token);
            }
            catch (Exception ex) when (ex is NpgsqlException or OperationCanceledException or TimeoutException)
            {
                missing.Add("database");
            }
            if (bus.CheckHealth().Status != BusHealthStatus.Healthy) missing.Add("broker");
            var live = workers.LiveWorkers(TimeSpan.FromSeconds(10));
            if (live == 0) missing.Add("workers (no heartbeat in the last 10 s)");
            return missing.Count == 0
                ? Results.Ok(new { status = "ready", workers = live })
                : Results.Json(new { status = "not ready", missing }, statusCode: 503);
        });
        return app;
    }
}
