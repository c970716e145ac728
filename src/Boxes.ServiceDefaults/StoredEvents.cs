using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Boxes.Contracts;
using Boxes.EventStore;

namespace Boxes.ServiceDefaults;

/// <summary>Turns contract records into stored events and back.</summary>
public static class StoredEvents
{
    public static EventData ToEventData(object @event, Guid eventId) =>
        new(eventId, StoredEventTypes.NameOf(@event.GetType()), JsonSerializer.Serialize(@event, @event.GetType(), BoxesJson.Options));

    public static object Deserialize(RecordedEvent recorded) =>
        StoredEventTypes.TryResolve(recorded.Type, out var type)
            ? JsonSerializer.Deserialize(recorded.Data, type, BoxesJson.Options)!
            : throw new InvalidOperationException($"Unknown stored event type '{recorded.Type}'.");

    /// <summary>
    /// A deterministic event id derived from the message that caused it: handling a redelivered message
    /// appends the same ids again, which the store treats as a no-op.
    /// </summary>
    public static Guid DeriveId(Guid causationId, string purpose)
    {
        Span<byte> input = stackalloc byte[16 + Encoding.UTF8.GetMaxByteCount(purpose.Length)];
        causationId.TryWriteBytes(input);
        var n = Encoding.UTF8.GetBytes(purpose, input[16..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input[..(16 + n)], hash);
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50); // version 5-style marker
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        return new Guid(hash[..16]);
    }

    public static BoxView? FoldBox(IEnumerable<RecordedEvent> events) => BoxView.Fold(events.Select(Deserialize));
}
