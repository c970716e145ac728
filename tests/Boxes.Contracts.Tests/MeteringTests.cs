using Boxes.Contracts;

namespace Boxes.Contracts.Tests;

/// <summary>The metering fold: pure arithmetic over a box's events.</summary>
public sealed class MeteringTests
{
    private static readonly Guid Box = Guid.NewGuid();
    private static readonly DateTimeOffset T0 = new(2026, 11, 1, 12, 0, 0, TimeSpan.Zero);
    private static DateTimeOffset At(double seconds) => T0.AddMilliseconds(seconds * 1000);

    [Fact]
    public void A_box_is_metered_from_ready_to_ended_to_the_millisecond()
    {
        var intervals = BoxMetering.Intervals([
            new BoxRequested(Box, Guid.NewGuid(), BoxKinds.Browser, new BoxSpec(), At(0)),
            new BoxReady(Box, "w", "ws://x", At(0.250)),
            new BoxStopRequested(Box, At(10)),
            new BoxEnding(Box, "closed_by_owner", At(10.010)),
            new BoxEnded(Box, "closed_by_owner", At(10.4)),
        ]);
        Assert.Equal([new RunningInterval(At(0.250), At(10.4))], intervals);
        Assert.Equal(10.15 * 2, BoxMetering.VcpuSeconds(intervals, 2, At(100)), 9);
    }

    [Fact]
    public void Paused_time_is_not_metered()
    {
        var intervals = BoxMetering.Intervals([
            new BoxReady(Box, "w", "e", At(1)),
            new BoxPaused(Box, At(3)),
            new BoxResumed(Box, At(13)),
            new BoxPaused(Box, At(14)),
            new BoxResumed(Box, At(20)),
            new BoxEnded(Box, "x", At(21)),
        ]);
        Assert.Equal(4, BoxMetering.VcpuSeconds(intervals, 1, At(1000)), 9);
    }

    [Fact]
    public void A_running_box_is_metered_up_to_now_and_a_failed_one_up_to_its_failure()
    {
        var running = BoxMetering.Intervals([new BoxReady(Box, "w", "e", At(0))]);
        Assert.Null(running.Single().To);
        Assert.Equal(5 * 4, BoxMetering.VcpuSeconds(running, 4, At(5)), 9);
        Assert.Equal(0, BoxMetering.VcpuSeconds(running, 4, At(-1)));

        var failed = BoxMetering.Intervals([new BoxReady(Box, "w", "e", At(0)), new BoxFailed(Box, "BOX_CRASHED", "x", At(7))]);
        Assert.Equal(7, BoxMetering.VcpuSeconds(failed, 1, At(100)), 9);
    }

    [Fact]
    public void A_box_that_never_became_ready_uses_nothing()
    {
        var intervals = BoxMetering.Intervals([
            new BoxRequested(Box, Guid.NewGuid(), BoxKinds.Sandbox, new BoxSpec(), At(0)),
            new BoxFailed(Box, "SCHEDULING_FAILED", "timeout", At(30)),
        ]);
        Assert.Empty(intervals);
        Assert.Equal(0, BoxMetering.VcpuSeconds(intervals, 2, At(100)));
    }

    [Fact]
    public void Rates_come_from_kind_and_weight_or_size()
    {
        var rates = new VcpuRates();
        Assert.Equal(1, rates.For(BoxKinds.Browser, new BoxSpec { Weight = "light" }));
        Assert.Equal(2, rates.For(BoxKinds.Browser, new BoxSpec { Weight = "medium" }));
        Assert.Equal(4, rates.For(BoxKinds.Browser, new BoxSpec { Weight = "heavy" }));
        Assert.Equal(2, rates.For(BoxKinds.Sandbox, new BoxSpec { Size = "standard" }));
        Assert.Equal(2, rates.For(BoxKinds.Sandbox, new BoxSpec()));
    }
}
