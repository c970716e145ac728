using Boxes.Contracts;
using Boxes.Webhooks.Events;
using MassTransit;

namespace Boxes.Webhooks.Consumers;

/// <summary>Webhooks for a box became ready: session.ready or sandbox.ready.</summary>
public sealed class BoxReadyConsumer(LifecycleFanOut fanOut) : IConsumer<BoxReady>
{
    public Task Consume(ConsumeContext<BoxReady> context) => fanOut.HandleAsync(context, context.Message.BoxId, context.CancellationToken);
}
