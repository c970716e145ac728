using Boxes.Contracts;
using Boxes.ServiceDefaults;

namespace Boxes.Billing.Metering;

/// <summary>
/// One metered piece of a running interval: [<see cref="Start"/>, <see cref="End"/>), the <see cref="Index"/>-th piece of
/// the interval that began at <see cref="IntervalStart"/>. Times are whole milliseconds.
/// </summary>
public readonly record struct Piece(DateTimeOffset IntervalStart, long Index, DateTimeOffset Start, DateTimeOffset End)
{
    public long Milliseconds => (End - Start).Ticks / TimeSpan.TicksPerMillisecond;

    /// <summary>The usage record's id: the same piece of the same box always gets the same id.</summary>
    public Guid RecordId(Guid boxId) =>
        StoredEvents.DeriveId(boxId, $"usage-piece:{IntervalStart.ToUnixTimeMilliseconds()}:{Index}");
}

/// <summary>The arithmetic of metering, without I/O: running intervals to the millisecond, cut into pieces.</summary>
public static class Pieces
{
    /// <summary>The time down to its whole millisecond, in UTC: metering is exact to the millisecond of the event timestamps.</summary>
    public static DateTimeOffset ToMillisecond(DateTimeOffset t) =>
        new(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerMillisecond, TimeSpan.Zero);

    public static IReadOnlyList<RunningInterval> ToMilliseconds(IEnumerable<RunningInterval> intervals) =>
        intervals.Select(i => new RunningInterval(ToMillisecond(i.From), i.To is { } to ? ToMillisecond(to) : null)).ToList();

    /// <summary>
    /// The interval's pieces up to <paramref name="until"/> (its end if it ended earlier): piece k is
    /// [from + k·length, min(from + (k+1)·length, end)), so only the last can be shorter.
    /// </summary>
    public static IEnumerable<Piece> Cut(RunningInterval interval, TimeSpan length, DateTimeOffset until, long firstIndex = 0)
    {
        var end = interval.To is { } to && to < until ? to : until;
        for (var k = firstIndex; ; k++)
        {
            var start = interval.From + TimeSpan.FromTicks(length.Ticks * k);
            if (start >= end) yield break;
            var pieceEnd = start + length;
            yield return new Piece(interval.From, k, start, pieceEnd < end ? pieceEnd : end);
        }
    }

    /// <summary>
    /// How many pieces of an interval still open at <paramref name="now"/> are over and may be written: piece k once
    /// from + (k+1)·length is <paramref name="grace"/> in the past.
    /// </summary>
    public static long DueCount(DateTimeOffset from, TimeSpan length, TimeSpan grace, DateTimeOffset now)
    {
        var elapsed = now - grace - from;
        return elapsed <= TimeSpan.Zero ? 0 : elapsed.Ticks / length.Ticks;
    }

    /// <summary>
    /// The pieces that may be written now: every piece of a closed interval (its last, shorter one included), and the
    /// due pieces of an open one (from <paramref name="firstIndex"/>).
    /// </summary>
    public static IEnumerable<Piece> Due(RunningInterval interval, TimeSpan length, TimeSpan grace, DateTimeOffset now, long firstIndex = 0)
    {
        if (interval.To is { } to) return Cut(interval, length, to, firstIndex);
        var count = DueCount(interval.From, length, grace, now);
        return Cut(interval, length, interval.From + TimeSpan.FromTicks(length.Ticks * count), firstIndex);
    }

    /// <summary>vCPU-milliseconds of <paramref name="milliseconds"/> at <paramref name="vcpus"/>: exact for whole rates, else to the nearest.</summary>
    public static long VcpuMilliseconds(decimal vcpus, long milliseconds) =>
        (long)decimal.Round(vcpus * milliseconds, 0, MidpointRounding.AwayFromZero);

    /// <summary>The overlap of [start, end) with [from, to) in milliseconds (0 when they do not overlap).</summary>
    public static long OverlapMilliseconds(DateTimeOffset start, DateTimeOffset end, DateTimeOffset from, DateTimeOffset to)
    {
        var s = start > from ? start : from;
        var e = end < to ? end : to;
        return e > s ? (e - s).Ticks / TimeSpan.TicksPerMillisecond : 0;
    }
}
