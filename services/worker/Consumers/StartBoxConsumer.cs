using Boxes.Contracts;
using Boxes.Worker.Browsers;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Consumers;

/// <summary>Starts a browser session from the warm pool and reports its CDP endpoint. Idempotent: a redelivered start reports the same browser.</summary>
public sealed class StartBoxConsumer(BrowserSessions sessions, IOptions<WorkerOptions> options, ILogger<StartBoxConsumer> logger)
    : IConsumer<StartBox>
{
    public async Task Consume(ConsumeContext<StartBox> context)
    {
        var box = context.Message;
        var workerId = options.Value.Id;
        if (box.Kind != BoxKinds.Browser)
        {
            await context.Publish(new BoxStartFailed(box.BoxId, workerId, $"this worker cannot run '{box.Kind}' boxes yet", DateTimeOffset.UtcNow));
            return;
        }
        try
        {
            var browser = await sessions.StartAsync(box.BoxId, context.CancellationToken);
            logger.LogInformation("Box {BoxId} started as Chromium pid {Pid}", box.BoxId, browser.Pid);
            await context.Publish(new BoxStarted(box.BoxId, workerId, browser.WebSocketUrl, DateTimeOffset.UtcNow));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Box {BoxId} failed to start", box.BoxId);
            await context.Publish(new BoxStartFailed(box.BoxId, workerId, ex.Message, DateTimeOffset.UtcNow));
        }
    }
}
