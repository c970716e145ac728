using Boxes.Contracts;
using Boxes.Worker.Browsers;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Boxes.Worker;

/// <summary>
/// Tells the scheduler (and every API replica) this worker is alive and how full it is. A worker whose
/// heartbeats stop is declared lost and its boxes fail. Also reports crashed browsers.
/// </summary>
public sealed class HeartbeatService(
    IBus bus, BrowserSessions sessions, IOptions<WorkerOptions> options, ILogger<HeartbeatService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        sessions.OnCrashed = async (boxId, reason) =>
        {
            logger.LogWarning("Box {BoxId} crashed: {Reason}", boxId, reason);
            await bus.Publish(new BoxCrashed(boxId, o.Id, reason, DateTimeOffset.UtcNow));
        };
        using var timer = new PeriodicTimer(o.HeartbeatInterval);
        do
        {
            try
            {
                var running = sessions.Running.ToArray();
                await bus.Publish(new WorkerHeartbeat(
                    o.Id, o.Address, o.Region, [BoxKinds.Browser], o.Capacity, running.Length, running, DateTimeOffset.UtcNow),
                    stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Heartbeat failed; retrying on the next tick");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
