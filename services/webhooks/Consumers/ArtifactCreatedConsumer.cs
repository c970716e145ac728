using Boxes.Contracts;
using Boxes.Webhooks.Events;
using MassTransit;

namespace Boxes.Webhooks.Consumers;

/// <summary>Webhooks for an artifact of a box was stored: artifact.created.</summary>
public sealed class ArtifactCreatedConsumer(LifecycleFanOut fanOut) : IConsumer<ArtifactCreated>
{
    public Task Consume(ConsumeContext<ArtifactCreated> context) => fanOut.HandleAsync(context, context.Message.BoxId, context.CancellationToken);
}
