using Boxes.Contracts;
using Boxes.Worker.Browsers;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Consumers;

/// <summary>Stops a box and frees what it held (process tree, profile folder), then says so. Idempotent.</summary>
public sealed class StopBoxConsumer(BrowserSessions sessions, IOptions<WorkerOptions> options, ILogger<StopBoxConsumer> logger)
    : IConsumer<StopBox>
{
    public async Task Consume(ConsumeContext<StopBox> context)
    {
        var stopped = await sessions.StopAsync(context.Message.BoxId);
        logger.LogInformation("Box {BoxId} stopped ({Reason}); was running here: {WasRunning}",
            context.Message.BoxId, context.Message.Reason, stopped);
        await context.Publish(new BoxStopped(context.Message.BoxId, options.Value.Id, DateTimeOffset.UtcNow));
    }
}
