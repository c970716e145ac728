using Boxes.Contracts;
using Boxes.Webhooks.Events;
using MassTransit;

namespace Boxes.Webhooks.Consumers;

/// <summary>Webhooks for a sandbox was paused: sandbox.paused.</summary>
public sealed class BoxPausedConsumer(LifecycleFanOut fanOut) : IConsumer<BoxPaused>
{
    public Task Consume(ConsumeContext<BoxPaused> context) => fanOut.HandleAsync(context, context.Message.BoxId, context.CancellationToken);
}
