using Boxes.Contracts;
using Boxes.Webhooks.Events;
using MassTransit;

namespace Boxes.Webhooks.Consumers;

/// <summary>Webhooks for a box failed: session.failed or sandbox.failed.</summary>
public sealed class BoxFailedConsumer(LifecycleFanOut fanOut) : IConsumer<BoxFailed>
{
    public Task Consume(ConsumeContext<BoxFailed> context) => fanOut.HandleAsync(context, context.Message.BoxId, context.CancellationToken);
}
