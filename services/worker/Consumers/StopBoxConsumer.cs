using Boxes.Contracts;
using Boxes.Worker.Browsers;
using Boxes.Worker.Sandboxes;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Consumers;

/// <summary>Stops a box and frees what it held (processes, profile folder or cgroup), then says so. Idempotent.</summary>
public sealed class StopBoxConsumer(BrowserSessions browsers, SandboxSessions sandboxes, IOptions<WorkerOptions> options, ILogger<StopBoxConsumer> logger)
    : IConsumer<StopBox>
{
    public async Task Consume(ConsumeContext<StopBox> context)
    {
        var id = context.Message.BoxId;
        // A box id is one kind or the other; asking both registries costs nothing and needs no kind on the message.
        var stopped = await browsers.StopAsync(id) | await sandboxes.StopAsync(id);
        logger.LogInformation("Box {BoxId} stopped ({Reason}); was running here: {WasRunning}", id, context.Message.Reason, stopped);
        await context.Publish(new BoxStopped(id, options.Value.Id, DateTimeOffset.UtcNow));
    }
}
