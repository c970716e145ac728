using Boxes.Billing.Tests.Infrastructure;
using Boxes.Contracts;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>
/// A box is metered while it runs: the closer (every 100 ms here) writes each minute once it is 10 s over, and usage
/// counts the minute in progress. The tests move the service's clock; the closer runs on its own.
/// </summary>
public sealed class RunningBoxTests(BillingHost host) : IClassFixture<BillingHost>
{
    private static string Day(DateTimeOffset t) => $"?from={t:yyyy-MM-dd}&to={t.AddDays(1):yyyy-MM-dd}";

    private async Task<decimal> VcpuSeconds(Guid org, string query) => (await host.Usage(org, query))["totalVcpuSeconds"]!.GetValue<decimal>();

    [Fact]
    public async Task A_running_box_is_written_minute_by_minute_and_its_usage_is_current_in_between()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-05-10T08:00:00.250Z");
        var box = await host.RequestBox(org, BoxKinds.Browser, "medium", t0.AddSeconds(-1));
        var ready = await host.Ready(box, t0);
        await host.WaitUntilConsumed(ready);
        Assert.True(await host.IsRunning(box.BoxId));

        host.Clock.Freeze(t0.AddSeconds(30));
        Assert.Equal(60m, await VcpuSeconds(org, Day(t0)));
        Assert.Empty(await host.Records(box.BoxId));

        host.Clock.Freeze(t0.AddSeconds(150));
        var records = await host.WaitForRecords(box.BoxId, r => r.Count == 2, "the first two minutes written by the closer");
        Assert.Equal(["08:00:00.250-08:01:00.250", "08:01:00.250-08:02:00.250"], records.Select(r => $"{r.Start:HH:mm:ss.fff}-{r.End:HH:mm:ss.fff}"));
        Assert.Equal(300m, await VcpuSeconds(org, Day(t0)));

        // The third minute ends at 180 s and is due at 190 s: at 185 s it is counted, but not written yet.
        host.Clock.Freeze(t0.AddSeconds(185));
        Assert.Equal(370m, await VcpuSeconds(org, Day(t0)));
        Assert.Equal(2, (await host.Records(box.BoxId)).Count);

        host.Clock.Freeze(t0.AddSeconds(191));
        await host.WaitForRecords(box.BoxId, r => r.Count == 3, "the third minute written");
        Assert.Equal(382m, await VcpuSeconds(org, Day(t0)));

        var end = await host.End(box, t0.AddMilliseconds(200_500));
        await host.WaitUntilConsumed(end);
        records = await host.Records(box.BoxId);
        Assert.Equal([60_000L, 60_000, 60_000, 20_500], records.Select(r => r.DurationMs));
        Assert.Equal(401m, await VcpuSeconds(org, Day(t0)));
        Assert.False(await host.IsRunning(box.BoxId));
    }

    [Fact]
    public async Task A_box_that_crashed_while_running_is_metered_up_to_its_failure()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-05-11T08:00:00.000Z");
        var box = await host.RequestBox(org, BoxKinds.Sandbox, "standard", t0.AddSeconds(-1));
        var ready = await host.Ready(box, t0);
        await host.WaitUntilConsumed(ready);
        host.Clock.Freeze(t0.AddSeconds(130));
        await host.WaitForRecords(box.BoxId, r => r.Count == 2, "two minutes written while it runs");

        var failed = await host.Fail(box, EndReasons.ProcessCrashed, t0.AddMilliseconds(150_500));
        await host.WaitUntilConsumed(failed);

        var records = await host.Records(box.BoxId);
        Assert.Equal([60_000L, 60_000, 30_500], records.Select(r => r.DurationMs));
        Assert.Equal(301m, await VcpuSeconds(org, Day(t0)));
        Assert.False(await host.IsRunning(box.BoxId));
    }

    [Fact]
    public async Task A_running_box_counts_in_a_past_period_exactly_what_it_ran_there()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-05-12T08:00:00.000Z");
        var box = await host.RequestBox(org, BoxKinds.Browser, "light", t0.AddSeconds(-1));
        var ready = await host.Ready(box, t0);
        await host.WaitUntilConsumed(ready);
        host.Clock.Freeze(t0.AddSeconds(300));
        await host.WaitForRecords(box.BoxId, r => r.Count == 4, "four minutes written (the fifth is not due until 310 s)");

        static string Range(DateTimeOffset from, DateTimeOffset to) => $"?from={from:yyyy-MM-ddTHH:mm:ss.fffZ}&to={to:yyyy-MM-ddTHH:mm:ss.fffZ}";
        // Within written minutes; across written and unwritten time; ending after now (counted up to now).
        Assert.Equal(60m, await VcpuSeconds(org, Range(t0.AddSeconds(30), t0.AddSeconds(90))));
        Assert.Equal(80m, await VcpuSeconds(org, Range(t0.AddSeconds(200), t0.AddSeconds(280))));
        Assert.Equal(100m, await VcpuSeconds(org, Range(t0.AddSeconds(200), t0.AddHours(1))));

        var end = await host.End(box, t0.AddSeconds(301));
        await host.WaitUntilConsumed(end);
        Assert.Equal(301m, await VcpuSeconds(org, Day(t0)));
    }

    [Fact]
    public async Task Two_billing_processes_closing_at_once_write_each_piece_once()
    {
        var org = Guid.NewGuid();
        await using var second = host.StartService();
        var t0 = BillingHost.At("2026-05-13T08:00:00.000Z");
        var box = await host.RequestBox(org, BoxKinds.Browser, "heavy", t0.AddSeconds(-1));
        var ready = await host.Ready(box, t0);
        await host.WaitUntilConsumed(ready);

        host.Clock.Freeze(t0.AddSeconds(611));
        var records = await host.WaitForRecords(box.BoxId, r => r.Count >= 10, "ten minutes written");
        Assert.Equal(10, records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            Assert.Equal(t0.AddMinutes(i), records[i].Start);
            Assert.Equal(t0.AddMinutes(i + 1), records[i].End);
        }
        Assert.Equal(4 * 600_000L, records.Sum(r => r.VcpuMs));

        var end = await host.End(box, t0.AddSeconds(615));
        await host.WaitUntilConsumed(end);
        Assert.Equal(4 * 615_000L, (await host.Records(box.BoxId)).Sum(r => r.VcpuMs));
    }
}
