using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Boxes.Webhooks.Delivery;
using Boxes.Webhooks.Subscriptions;
using MassTransit;

namespace Boxes.Webhooks.Events;

/// <summary>
/// Turns one box event from the bus into deliveries: it reads the box's stream up to that event (most events carry
/// only the box id), folds it for the organisation, kind, status and end reason, meters the usage so far, builds the
/// payload once, and inserts one delivery per subscribed endpoint of that organisation. Safe to run twice for the
/// same event (a redelivery, a second webhooks process): the insert is idempotent by (endpoint, event id).
/// </summary>
public sealed class LifecycleFanOut(
    EventStore.EventStore store, DeliveryStore deliveries, VcpuRates rates, TimeProvider clock, ILogger<LifecycleFanOut> logger)
{
    public async Task HandleAsync(ConsumeContext context, Guid boxId, CancellationToken ct)
    {
        // The relay publishes each stored event with its event id as the message id: the delivery's event id.
        if (context.MessageId is not { } eventId)
        {
            logger.LogWarning("A box event for {BoxId} arrived without a message id; it cannot be matched to its stored event and is skipped", boxId);
            return;
        }

        var stream = await store.ReadStreamAsync(Streams.ForBox(boxId), ct: ct);
        var upTo = Position(stream, eventId, context);
        if (upTo < 0)
        {
            logger.LogWarning("Box event {EventId} is not in the stream of box {BoxId}; no webhook is sent for it", eventId, boxId);
            return;
        }

        // The box as it was when this event happened, not as it is now: a late-consumed "ready" still says ready.
        var events = stream.Take(upTo + 1).Select(StoredEvents.Deserialize).ToList();
        var current = events[^1];
        var before = BoxView.Fold(events.Take(events.Count - 1));
        var view = BoxView.Apply(before, current);
        if (view is null)
        {
            logger.LogWarning("Box {BoxId} has no BoxRequested before event {EventId}; no webhook is sent for it", boxId, eventId);
            return;
        }
        // An end or failure after the box had already ended changes nothing, and is not announced twice.
        if (before is not null && BoxStatuses.IsTerminal(before.Status) && current is BoxEnded or BoxFailed) return;
        if (EventTypes.For(current, view.Kind) is not { } type) return;

        var timestamp = TimestampOf(current) ?? clock.GetUtcNow();
        var usage = BoxMetering.VcpuSeconds(BoxMetering.Intervals(events), rates.For(view.Kind, view.Spec), timestamp);
        var payload = WebhookPayloads.ForBox(type, timestamp, view, usage, current as ArtifactCreated);
        var made = await deliveries.EnqueueForSubscribersAsync(view.OrganizationId, eventId, type, payload, clock.GetUtcNow(), ct);
        if (made > 0)
            logger.LogInformation("Box event {EventId} ({Type}) of box {BoxId} makes {Count} webhook deliveries", eventId, type, boxId, made);
    }

    /// <summary>The event's index in its stream: by event id, else by the relay's boxes-version header.</summary>
    private static int Position(IReadOnlyList<RecordedEvent> stream, Guid eventId, ConsumeContext context)
    {
        for (var i = 0; i < stream.Count; i++)
            if (stream[i].EventId == eventId) return i;
        var version = context.Headers.Get<long>("boxes-version");
        if (version is { } v)
            for (var i = 0; i < stream.Count; i++)
                if (stream[i].Version == v) return i;
        return -1;
    }

    private static DateTimeOffset? TimestampOf(object e) => e switch
    {
        BoxRequested x => x.Timestamp,
        BoxReady x => x.Timestamp,
        BoxEnded x => x.Timestamp,
        BoxFailed x => x.Timestamp,
        BoxPaused x => x.Timestamp,
        BoxResumed x => x.Timestamp,
        ArtifactCreated x => x.Timestamp,
        _ => null,
    };
}
