namespace Boxes.Contracts;

/// <summary>
/// vCPUs a box is metered at, by kind and weight/size (configuration section <c>Metering</c>; these are the
/// defaults): browsers light 1, medium 2, heavy 4; sandboxes standard 2.
/// </summary>
public sealed class VcpuRates
{
    public Dictionary<string, double> Browser { get; set; } = new(StringComparer.Ordinal) { ["light"] = 1, ["medium"] = 2, ["heavy"] = 4 };
    public Dictionary<string, double> Sandbox { get; set; } = new(StringComparer.Ordinal) { ["standard"] = 2 };

    /// <summary>The box's vCPUs; an unknown weight or size counts as the kind's smallest.</summary>
    public double For(string kind, BoxSpec spec)
    {
        var (table, key) = kind == BoxKinds.Sandbox ? (Sandbox, spec.Size ?? "standard") : (Browser, spec.Weight ?? "light");
        return table.TryGetValue(key, out var v) ? v : table.Values.DefaultIfEmpty(1).Min();
    }
}

/// <summary>A stretch of time a box was running (and so metered): from ready or resume to pause, end or failure.</summary>
public sealed record RunningInterval(DateTimeOffset From, DateTimeOffset? To);

/// <summary>
/// What a box's stream means for metering, as a pure fold: a box is metered from <c>ready</c> to
/// <c>ended</c>/<c>failed</c>, and not while <c>paused</c>, to the millisecond of the event timestamps. The
/// webhooks service puts "usage so far" in its payloads with it; billing meters with it.
/// </summary>
public static class BoxMetering
{
    /// <summary>The box's running intervals, in order; the last is open (To = null) while the box runs.</summary>
    public static IReadOnlyList<RunningInterval> Intervals(IEnumerable<object> events)
    {
        var intervals = new List<RunningInterval>();
        DateTimeOffset? openSince = null;
        var over = false;
        foreach (var e in events)
        {
            if (over) break;
            switch (e)
            {
                case BoxReady r when openSince is null && intervals.Count == 0:
                    openSince = r.Timestamp;
                    break;
                case BoxResumed r when openSince is null && intervals.Count > 0:
                    openSince = r.Timestamp;
                    break;
                case BoxPaused p when openSince is { } since:
                    intervals.Add(new RunningInterval(since, Max(since, p.Timestamp)));
                    openSince = null;
                    break;
                // Metered to the end or the failure itself (the "from ready to ended/failed").
                case BoxEnded or BoxFailed:
                    var at = e is BoxEnded ended ? ended.Timestamp : ((BoxFailed)e).Timestamp;
                    if (openSince is { } open) intervals.Add(new RunningInterval(open, Max(open, at)));
                    openSince = null;
                    over = true;
                    break;
            }
        }
        if (openSince is { } still) intervals.Add(new RunningInterval(still, null));
        return intervals;
    }

    /// <summary>vCPU-seconds used up to <paramref name="asOf"/> (an open interval counts up to it; later time does not count).</summary>
    public static double VcpuSeconds(IReadOnlyList<RunningInterval> intervals, double vcpus, DateTimeOffset asOf)
    {
        double milliseconds = 0;
        foreach (var i in intervals)
        {
            var end = i.To is { } to && to < asOf ? to : asOf;
            if (end > i.From) milliseconds += (end - i.From).TotalMilliseconds;
        }
        return milliseconds / 1000.0 * vcpus;
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;
}
