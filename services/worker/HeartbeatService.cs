using Boxes.Contracts;
using Boxes.Worker.Browsers;
using Boxes.Worker.Sandboxes;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Boxes.Worker;

/// <summary>
/// Tells the scheduler (and every API replica) this worker is alive, which kinds of box it runs and how full
/// it is. A worker whose heartbeats stop is declared lost and its boxes fail. Also reports crashed boxes.
/// </summary>
public sealed class HeartbeatService(
    IBus bus, BrowserSessions browsers, SandboxSessions sandboxes, SandboxHost sandboxHost, IOptions<WorkerOptions> options,
    ILogger<HeartbeatService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        async Task ReportCrash(Guid boxId, string reason)
        {
            logger.LogWarning("Box {BoxId} crashed: {Reason}", boxId, reason);
            await bus.Publish(new BoxCrashed(boxId, o.Id, reason, DateTimeOffset.UtcNow));
        }
        browsers.OnCrashed = ReportCrash;
        sandboxes.OnCrashed = ReportCrash;
        IReadOnlyList<string> kinds = sandboxHost.Available ? [BoxKinds.Browser, BoxKinds.Sandbox] : [BoxKinds.Browser];
        using var timer = new PeriodicTimer(o.HeartbeatInterval);
        do
        {
            try
            {
                var running = browsers.Running.Concat(sandboxes.Running).ToArray();
                await bus.Publish(new WorkerHeartbeat(o.Id, o.Address, o.Region, kinds, o.Capacity, running.Length, running, DateTimeOffset.UtcNow),
                    stoppingToken);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning(ex, "Heartbeat failed; retrying on the next tick");
            }
        } while (await timer.WaitForNextTickAsync(stoppingToken));
    }
}
