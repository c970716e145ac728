namespace Boxes.Billing;

/// <summary>Configuration section <c>Billing</c> (env <c>Billing__...</c>); durations as TimeSpans (<c>00:01:00</c>).</summary>
public sealed class BillingOptions
{
    public const string Section = "Billing";

    /// <summary>
    /// A running interval is cut into pieces of this length, counted from the interval's start; each piece is one usage
    /// record. A box keeps the length it was first seen with.
    /// </summary>
    public TimeSpan IntervalLength { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>
    /// A piece of a box that is still running is written once its end is this far in the past, so that an event appended
    /// a moment late with an earlier timestamp (a pause, an end) is already in the stream when the piece is cut.
    /// </summary>
    public TimeSpan Grace { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the closer writes the due pieces of running boxes.</summary>
    public TimeSpan CloseEvery { get; set; } = TimeSpan.FromSeconds(15);
}
