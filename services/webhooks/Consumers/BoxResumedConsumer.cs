using Boxes.Contracts;
using Boxes.Webhooks.Events;
using MassTransit;

namespace Boxes.Webhooks.Consumers;

/// <summary>Webhooks for a sandbox was resumed: sandbox.resumed.</summary>
public sealed class BoxResumedConsumer(LifecycleFanOut fanOut) : IConsumer<BoxResumed>
{
    public Task Consume(ConsumeContext<BoxResumed> context) => fanOut.HandleAsync(context, context.Message.BoxId, context.CancellationToken);
}
