using Boxes.Billing.Metering;
using Boxes.Billing.Usage;
using Boxes.Contracts;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>The arithmetic of metering, without I/O: pieces, due pieces, ids, milliseconds, cursors and field formats.</summary>
public sealed class PieceTests
{
    private static readonly TimeSpan Minute = TimeSpan.FromMinutes(1);
    private static readonly DateTimeOffset T0 = new(2026, 3, 2, 10, 0, 0, 123, TimeSpan.Zero);

    [Fact]
    public void A_closed_interval_is_cut_into_whole_pieces_from_its_start_and_a_shorter_last_one()
    {
        var pieces = Pieces.Cut(new RunningInterval(T0, T0.AddMilliseconds(151_335)), Minute, DateTimeOffset.MaxValue).ToList();

        Assert.Equal([0L, 1, 2], pieces.Select(p => p.Index));
        Assert.Equal([T0, T0.AddMinutes(1), T0.AddMinutes(2)], pieces.Select(p => p.Start));
        Assert.Equal([T0.AddMinutes(1), T0.AddMinutes(2), T0.AddMilliseconds(151_335)], pieces.Select(p => p.End));
        Assert.Equal([60_000L, 60_000, 31_335], pieces.Select(p => p.Milliseconds));
        Assert.All(pieces, p => Assert.Equal(T0, p.IntervalStart));
    }

    [Fact]
    public void An_interval_of_exactly_two_pieces_has_no_empty_third()
    {
        var pieces = Pieces.Cut(new RunningInterval(T0, T0.AddMinutes(2)), Minute, DateTimeOffset.MaxValue).ToList();
        Assert.Equal([60_000L, 60_000], pieces.Select(p => p.Milliseconds));
    }

    [Fact]
    public void An_empty_interval_has_no_pieces()
    {
        Assert.Empty(Pieces.Cut(new RunningInterval(T0, T0), Minute, DateTimeOffset.MaxValue));
        Assert.Empty(Pieces.Due(new RunningInterval(T0, T0), Minute, TimeSpan.FromSeconds(10), T0.AddDays(1)));
    }

    [Fact]
    public void An_open_interval_cut_up_to_now_ends_in_the_piece_in_progress()
    {
        var pieces = Pieces.Cut(new RunningInterval(T0, null), Minute, T0.AddSeconds(90)).ToList();
        Assert.Equal([60_000L, 30_000], pieces.Select(p => p.Milliseconds));
    }

    [Fact]
    public void A_piece_of_a_running_box_is_due_once_its_end_is_the_grace_in_the_past()
    {
        var grace = TimeSpan.FromSeconds(10);
        var open = new RunningInterval(T0, null);

        Assert.Equal(0, Pieces.DueCount(T0, Minute, grace, T0.AddSeconds(69.999)));
        Assert.Equal(1, Pieces.DueCount(T0, Minute, grace, T0.AddSeconds(70)));
        Assert.Equal(1, Pieces.DueCount(T0, Minute, grace, T0.AddSeconds(129.999)));
        Assert.Equal(2, Pieces.DueCount(T0, Minute, grace, T0.AddSeconds(130)));
        Assert.Equal(0, Pieces.DueCount(T0, Minute, grace, T0.AddSeconds(-5)));

        var due = Pieces.Due(open, Minute, grace, T0.AddSeconds(135)).ToList();
        Assert.Equal([60_000L, 60_000], due.Select(p => p.Milliseconds));
        // From a piece on: what the closer asks for once the first pieces are written.
        Assert.Equal([1L], Pieces.Due(open, Minute, grace, T0.AddSeconds(135), firstIndex: 1).Select(p => p.Index));
        Assert.Empty(Pieces.Due(open, Minute, grace, T0.AddSeconds(135), firstIndex: 2));
    }

    [Fact]
    public void Every_piece_of_a_closed_interval_is_due_at_once_whatever_the_time()
    {
        var closed = new RunningInterval(T0, T0.AddSeconds(65));
        var due = Pieces.Due(closed, Minute, TimeSpan.FromSeconds(10), T0).ToList();
        Assert.Equal([60_000L, 5_000], due.Select(p => p.Milliseconds));
    }

    [Fact]
    public void A_pieces_record_id_is_the_same_every_time_and_differs_between_pieces_boxes_and_intervals()
    {
        var box = Guid.NewGuid();
        var pieces = Pieces.Cut(new RunningInterval(T0, T0.AddMinutes(3)), Minute, DateTimeOffset.MaxValue).ToList();
        var again = Pieces.Cut(new RunningInterval(T0, T0.AddMinutes(2).AddSeconds(1)), Minute, DateTimeOffset.MaxValue).ToList();

        // Cut again from scratch, the same pieces get the same ids (nothing random or per call goes into them).
        var recut = Pieces.Cut(new RunningInterval(T0, T0.AddMinutes(3)), Minute, DateTimeOffset.MaxValue).ToList();
        Assert.Equal(pieces.Select(p => p.RecordId(box)), recut.Select(p => p.RecordId(box)));
        // The same piece of a box is the same record even when the interval's end is known differently.
        Assert.Equal(pieces[2].RecordId(box), again[2].RecordId(box));
        Assert.Equal(3, pieces.Select(p => p.RecordId(box)).Distinct().Count());
        Assert.NotEqual(pieces[0].RecordId(box), pieces[0].RecordId(Guid.NewGuid()));
        var later = Pieces.Cut(new RunningInterval(T0.AddMinutes(10), T0.AddMinutes(11)), Minute, DateTimeOffset.MaxValue).Single();
        Assert.NotEqual(pieces[0].RecordId(box), later.RecordId(box));
    }

    [Fact]
    public void Event_times_count_to_their_millisecond()
    {
        var t = new DateTimeOffset(2026, 3, 2, 12, 0, 0, 123, TimeSpan.FromHours(2)).AddTicks(9_999);
        var ms = Pieces.ToMillisecond(t);
        Assert.Equal(TimeSpan.Zero, ms.Offset);
        Assert.Equal(new DateTimeOffset(2026, 3, 2, 10, 0, 0, 123, TimeSpan.Zero), ms);
    }

    [Theory]
    [InlineData(1, 60_000, 60_000)]
    [InlineData(4, 31_335, 125_340)]
    [InlineData(0.5, 1_001, 501)] // 500.5 rounds away from zero
    [InlineData(0.5, 1_000, 500)]
    public void Vcpu_milliseconds_are_the_rate_times_the_milliseconds(double vcpus, long ms, long expected) =>
        Assert.Equal(expected, Pieces.VcpuMilliseconds((decimal)vcpus, ms));

    [Fact]
    public void A_piece_is_clipped_to_a_period()
    {
        Assert.Equal(30_000, Pieces.OverlapMilliseconds(T0, T0.AddMinutes(1), T0.AddSeconds(30), T0.AddDays(1)));
        Assert.Equal(10_000, Pieces.OverlapMilliseconds(T0, T0.AddMinutes(1), T0.AddSeconds(-5), T0.AddSeconds(10)));
        Assert.Equal(0, Pieces.OverlapMilliseconds(T0, T0.AddMinutes(1), T0.AddMinutes(1), T0.AddMinutes(2)));
    }

    [Fact]
    public void A_feed_cursor_round_trips_and_anything_else_is_refused()
    {
        var p = new FeedPosition(1_000_000_000_123UL, 42);
        Assert.True(FeedPosition.TryDecode(p.Encode(), out var back));
        Assert.Equal(p, back);
        Assert.True(FeedPosition.TryDecode(FeedPosition.Start.Encode(), out var start));
        Assert.Equal(FeedPosition.Start, start);

        foreach (var bad in new[] { "", "abc", "not-a-cursor-at-all!!", p.Encode() + "A", p.Encode()[..^1], "AAAAAAAAAAAAAAAAAAAAAA==",
                     new FeedPosition(1, -1).Encode() })
            Assert.False(FeedPosition.TryDecode(bad, out _), bad);
    }

    [Fact]
    public void Csv_fields_are_quoted_as_rfc_4180_says()
    {
        Assert.Equal("", UsageFormats.CsvField(null));
        Assert.Equal("light", UsageFormats.CsvField("light"));
        Assert.Equal("\"a,b\"", UsageFormats.CsvField("a,b"));
        Assert.Equal("\"say \"\"hi\"\"\"", UsageFormats.CsvField("say \"hi\""));
        Assert.Equal("\"two\nlines\"", UsageFormats.CsvField("two\nlines"));
        Assert.Equal("\"cr\rhere\"", UsageFormats.CsvField("cr\rhere"));
    }

    [Fact]
    public void Times_rates_and_vcpu_seconds_have_fixed_formats()
    {
        Assert.Equal("2026-03-02T10:00:00.123Z", UsageFormats.Time(T0));
        Assert.Equal("2026-03-02T08:00:00.000Z", UsageFormats.Time(new DateTimeOffset(2026, 3, 2, 10, 0, 0, TimeSpan.FromHours(2))));
        Assert.Equal("2", UsageFormats.Vcpus(2m));
        Assert.Equal("2", UsageFormats.Vcpus(2.000m));
        Assert.Equal("0.5", UsageFormats.Vcpus(0.50m));
        Assert.Equal("60.000", UsageFormats.VcpuSeconds(60_000));
        Assert.Equal("0.001", UsageFormats.VcpuSeconds(1));
        Assert.Equal("125.340", UsageFormats.VcpuSeconds(125_340));
        Assert.Equal("0.000", UsageFormats.VcpuSeconds(0));
    }
}
