using Boxes.Contracts;
using Boxes.Webhooks.Events;
using MassTransit;

namespace Boxes.Webhooks.Consumers;

/// <summary>Webhooks for a box ended: session.ended or sandbox.ended.</summary>
public sealed class BoxEndedConsumer(LifecycleFanOut fanOut) : IConsumer<BoxEnded>
{
    public Task Consume(ConsumeContext<BoxEnded> context) => fanOut.HandleAsync(context, context.Message.BoxId, context.CancellationToken);
}
