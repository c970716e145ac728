using System.Text.Json;
using Boxes.Contracts;
using Boxes.EventStore;
using MassTransit;

namespace Boxes.ServiceDefaults;

/// <summary>Publishes a stored event as its contract type, with the event id as the message id so consumers can dedupe.</summary>
public sealed class MassTransitEventPublisher(IBus bus) : IEventPublisher
{
    public async Task PublishAsync(RecordedEvent recorded, CancellationToken ct)
    {
        if (!StoredEventTypes.TryResolve(recorded.Type, out var type))
            throw new InvalidOperationException($"Stored event type '{recorded.Type}' is unknown to this build; refusing to skip it.");
        var message = JsonSerializer.Deserialize(recorded.Data, type, BoxesJson.Options)
            ?? throw new InvalidOperationException($"Event {recorded.EventId} has empty data.");
        await bus.Publish(message, type, ctx =>
        {
            ctx.MessageId = recorded.EventId;
            ctx.Headers.Set("boxes-stream", recorded.StreamId);
            ctx.Headers.Set("boxes-version", recorded.Version);
        }, ct);
    }
}
