using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;

namespace Boxes.Billing.Metering;

/// <summary>
/// What a box's stream means to billing: who owns it, what it is, and its running intervals to the millisecond (the
/// pure fold <see cref="BoxMetering.Intervals"/>, so pauses are left out and metering stops at the end or failure).
/// </summary>
public sealed record MeteredBox(Guid BoxId, Guid OrganizationId, string Kind, BoxSpec Spec, long Version, IReadOnlyList<RunningInterval> Intervals)
{
    // Only these matter to metering; the stream's other events (placement, artifacts, ...) are not even deserialized.
    private static readonly HashSet<string> Relevant = new(StringComparer.Ordinal)
    {
        nameof(BoxRequested), nameof(BoxReady), nameof(BoxPaused), nameof(BoxResumed), nameof(BoxEnded), nameof(BoxFailed),
    };

    /// <summary>The interval the box is running in now, if any (the last one, still open).</summary>
    public RunningInterval? Open => Intervals.Count > 0 && Intervals[^1].To is null ? Intervals[^1] : null;

    /// <summary>The weight a browser is metered at (null for a sandbox).</summary>
    public string? Weight => Kind == BoxKinds.Sandbox ? null : Spec.Weight ?? "light";

    /// <summary>The size a sandbox is metered at (null for a browser).</summary>
    public string? Size => Kind == BoxKinds.Sandbox ? Spec.Size ?? "standard" : null;

    /// <summary>The box as its whole stream tells it; null when the stream has no <see cref="BoxRequested"/> (nothing to meter).</summary>
    public static MeteredBox? From(Guid boxId, IReadOnlyList<RecordedEvent> stream)
    {
        var events = stream.Where(e => Relevant.Contains(e.Type)).Select(StoredEvents.Deserialize).ToList();
        if (events.OfType<BoxRequested>().FirstOrDefault() is not { } requested) return null;
        return new MeteredBox(boxId, requested.OrganizationId, requested.Kind, requested.Spec, stream[^1].Version,
            Pieces.ToMilliseconds(BoxMetering.Intervals(events)));
    }
}
