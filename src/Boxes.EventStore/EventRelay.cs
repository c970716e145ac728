using Microsoft.Extensions.Logging;
using Npgsql;

namespace Boxes.EventStore;

/// <summary>Puts one stored event on the bus. Implementations must not return until the broker has confirmed it.</summary>
public interface IEventPublisher
{
    Task PublishAsync(RecordedEvent recorded, CancellationToken ct);
}

/// <summary>
/// Feeds the bus from the store (no dual writes): every appended event is published, in log order,
/// with its event id as the message id. The checkpoint moves only after the whole batch is confirmed,
/// so a crash between publish and checkpoint republishes (consumers dedupe by message id) and never loses.
/// </summary>
public sealed class EventRelay(NpgsqlDataSource dataSource, IEventPublisher publisher, ILogger<EventRelay> logger)
    : LogSubscription("relay", dataSource, new PublishingHandler(publisher), logger)
{
    private sealed class PublishingHandler(IEventPublisher publisher) : ILogHandler
    {
        public async Task HandleAsync(IReadOnlyList<RecordedEvent> events, NpgsqlTransaction tx, CancellationToken ct)
        {
            // Sequential on purpose: consumers rely on log order, and confirms on loopback cost well under a millisecond.
            foreach (var e in events) await publisher.PublishAsync(e, ct);
        }
    }
}
