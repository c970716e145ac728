using Boxes.Billing.Tests.Infrastructure;
using Boxes.Contracts;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>What a box is metered at: its vCPUs from ready to ended or failed, not while paused, to the millisecond.</summary>
public sealed class MeteringTests(BillingHost host) : IClassFixture<BillingHost>
{
    [Theory]
    [InlineData(BoxKinds.Browser, "light", 1)]
    [InlineData(BoxKinds.Browser, "medium", 2)]
    [InlineData(BoxKinds.Browser, "heavy", 4)]
    [InlineData(BoxKinds.Sandbox, "standard", 2)]
    public async Task A_box_is_metered_at_its_vcpus_from_ready_to_ended_to_the_millisecond(string kind, string weightOrSize, int vcpus)
    {
        var org = Guid.NewGuid();
        // Ticks below the millisecond do not count: metering is exact to the millisecond of the event timestamps.
        var ready = BillingHost.At("2026-03-02T10:00:00.123Z").AddTicks(4_000);
        var ended = BillingHost.At("2026-03-02T10:02:31.458Z").AddTicks(9_999);
        var (box, end) = await host.RanBox(org, kind, weightOrSize, ready, ended);
        await host.WaitUntilConsumed(end);

        var records = await host.Records(box.BoxId);
        Assert.Equal([60_000L, 60_000, 31_335], records.Select(r => r.DurationMs));
        Assert.Equal(
            ["10:00:00.123-10:01:00.123", "10:01:00.123-10:02:00.123", "10:02:00.123-10:02:31.458"],
            records.Select(r => $"{r.Start:HH:mm:ss.fff}-{r.End:HH:mm:ss.fff}"));
        Assert.All(records, r =>
        {
            Assert.Equal(org, r.OrganizationId);
            Assert.Equal(kind, r.Kind);
            Assert.Equal(kind == BoxKinds.Browser ? weightOrSize : null, r.Weight);
            Assert.Equal(kind == BoxKinds.Sandbox ? weightOrSize : null, r.Size);
            Assert.Equal(vcpus, r.Vcpus);
            Assert.Equal(vcpus * r.DurationMs, r.VcpuMs);
        });
        Assert.Equal(vcpus * 151_335L, records.Sum(r => r.VcpuMs));
        Assert.False(await host.IsRunning(box.BoxId));

        var usage = await host.Usage(org, "?from=2026-03-02T00:00:00Z&to=2026-03-03T00:00:00Z");
        Assert.Equal(vcpus * 151.335m, usage["totalVcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal(1, usage["totalSessions"]!.GetValue<int>());
        Assert.Equal(vcpus * 151.335m, usage["byKind"]![kind]!["vcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal(1, usage["byKind"]![kind]!["sessions"]!.GetValue<int>());
        Assert.Equal(decimal.Round(151_335m / 3_600_000m, 6), usage["byKind"]![kind]!["hours"]!.GetValue<decimal>());
        Assert.Equal(kind == BoxKinds.Browser ? decimal.Round(151_335m / 3_600_000m, 6) : 0m, usage["totalBrowserHours"]!.GetValue<decimal>());
    }

    [Fact]
    public async Task A_paused_stretch_is_not_metered()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-03-03T09:00:00.000Z");
        var box = await host.RequestBox(org, BoxKinds.Sandbox, "standard", t0.AddSeconds(-2));
        await host.Ready(box, t0);
        await host.Pause(box, t0.AddMilliseconds(70_250));
        await host.Resume(box, t0.AddSeconds(300));
        var end = await host.End(box, t0.AddMilliseconds(345_500));
        await host.WaitUntilConsumed(end);

        var records = await host.Records(box.BoxId);
        Assert.Equal(
            ["09:00:00.000-09:01:00.000", "09:01:00.000-09:01:10.250", "09:05:00.000-09:05:45.500"],
            records.Select(r => $"{r.Start:HH:mm:ss.fff}-{r.End:HH:mm:ss.fff}"));
        Assert.Equal(2 * (70_250L + 45_500), records.Sum(r => r.VcpuMs));

        var usage = await host.Usage(org, "?from=2026-03-03T00:00:00Z&to=2026-03-04T00:00:00Z");
        Assert.Equal(231.5m, usage["totalVcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal(1, usage["byKind"]!["sandbox"]!["sessions"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_box_that_failed_is_metered_up_to_its_failure()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-03-04T11:00:00.500Z");
        var box = await host.RequestBox(org, BoxKinds.Browser, "medium", t0.AddSeconds(-1));
        await host.Ready(box, t0);
        var failed = await host.Fail(box, EndReasons.ProcessCrashed, t0.AddMilliseconds(90_750));
        await host.WaitUntilConsumed(failed);

        var records = await host.Records(box.BoxId);
        Assert.Equal([60_000L, 30_750], records.Select(r => r.DurationMs));
        Assert.Equal(2 * 90_750L, records.Sum(r => r.VcpuMs));
        Assert.False(await host.IsRunning(box.BoxId));
    }

    [Fact]
    public async Task A_box_that_never_became_ready_is_not_metered()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-03-05T08:00:00Z");
        var box = await host.RequestBox(org, BoxKinds.Browser, "light", t0);
        var failed = await host.Fail(box, EndReasons.SchedulingTimeout, t0.AddSeconds(30));
        await host.WaitUntilConsumed(failed);

        Assert.Empty(await host.Records(box.BoxId));
        var usage = await host.Usage(org, "?from=2026-03-05T00:00:00Z&to=2026-03-06T00:00:00Z");
        Assert.Equal(0, usage["totalSessions"]!.GetValue<int>());
        Assert.Equal(0m, usage["totalVcpuSeconds"]!.GetValue<decimal>());
    }

    [Fact]
    public async Task A_failure_reported_after_the_end_adds_nothing()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-03-06T08:00:00Z");
        var (box, end) = await host.RanBox(org, BoxKinds.Browser, "light", t0, t0.AddSeconds(45));
        var late = await host.Fail(box, EndReasons.WorkerLost, t0.AddMinutes(10));
        await host.WaitUntilConsumed(end);
        await host.WaitUntilConsumed(late);

        var record = Assert.Single(await host.Records(box.BoxId));
        Assert.Equal(45_000, record.VcpuMs);
    }
}
