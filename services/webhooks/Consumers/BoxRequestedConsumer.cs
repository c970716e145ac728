using Boxes.Contracts;
using Boxes.Webhooks.Events;
using MassTransit;

namespace Boxes.Webhooks.Consumers;

/// <summary>Webhooks for a box was requested: session.queued or sandbox.queued.</summary>
public sealed class BoxRequestedConsumer(LifecycleFanOut fanOut) : IConsumer<BoxRequested>
{
    public Task Consume(ConsumeContext<BoxRequested> context) => fanOut.HandleAsync(context, context.Message.BoxId, context.CancellationToken);
}
