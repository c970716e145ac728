using Boxes.Billing.Tests.Infrastructure;
using Boxes.Contracts;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>An organisation's usage for a period: its boxes' metered time inside the period, split by kind.</summary>
public sealed class UsageTests(BillingHost host) : IClassFixture<BillingHost>
{
    [Fact]
    public async Task Usage_for_the_current_month_counts_only_this_months_time()
    {
        var org = Guid.NewGuid();
        // February only; across the month's start; inside March.
        var (_, e1) = await host.RanBox(org, BoxKinds.Browser, "heavy", BillingHost.At("2026-02-10T10:00:00Z"), BillingHost.At("2026-02-10T10:01:00Z"));
        var (_, e2) = await host.RanBox(org, BoxKinds.Browser, "light", BillingHost.At("2026-02-28T23:59:00Z"), BillingHost.At("2026-03-01T00:01:30.500Z"));
        var (_, e3) = await host.RanBox(org, BoxKinds.Sandbox, "standard", BillingHost.At("2026-03-10T10:00:00Z"), BillingHost.At("2026-03-10T10:05:00Z"));
        foreach (var e in new[] { e1, e2, e3 }) await host.WaitUntilConsumed(e);

        host.Clock.Freeze(BillingHost.At("2026-03-15T12:00:00Z"));
        var usage = await host.Usage(org);

        Assert.Equal(2, usage["totalSessions"]!.GetValue<int>());
        Assert.Equal(690.5m, usage["totalVcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal(0.025139m, usage["totalBrowserHours"]!.GetValue<decimal>()); // 90.5 s
        var browser = usage["byKind"]!["browser"]!;
        Assert.Equal(1, browser["sessions"]!.GetValue<int>());
        Assert.Equal(0.025139m, browser["hours"]!.GetValue<decimal>());
        Assert.Equal(90.5m, browser["vcpuSeconds"]!.GetValue<decimal>());
        var sandbox = usage["byKind"]!["sandbox"]!;
        Assert.Equal(1, sandbox["sessions"]!.GetValue<int>());
        Assert.Equal(0.083333m, sandbox["hours"]!.GetValue<decimal>()); // 300 s
        Assert.Equal(600m, sandbox["vcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal("2026-03-01T00:00:00.000Z", usage["period"]!["from"]!.GetValue<string>());
        Assert.Equal("2026-04-01T00:00:00.000Z", usage["period"]!["to"]!.GetValue<string>());

        var february = await host.Usage(org, "?from=2026-02-01&to=2026-03-01");
        Assert.Equal(2, february["totalSessions"]!.GetValue<int>());
        Assert.Equal(240m + 60m, february["totalVcpuSeconds"]!.GetValue<decimal>());
    }

    [Fact]
    public async Task Usage_for_a_range_clips_intervals_at_its_edges()
    {
        var org = Guid.NewGuid();
        var (_, e1) = await host.RanBox(org, BoxKinds.Browser, "heavy", BillingHost.At("2026-06-10T10:00:00Z"), BillingHost.At("2026-06-10T10:03:00Z"));
        var (_, e2) = await host.RanBox(org, BoxKinds.Browser, "heavy", BillingHost.At("2026-06-10T10:05:00Z"), BillingHost.At("2026-06-10T10:06:00Z"));
        await host.WaitUntilConsumed(e1);
        await host.WaitUntilConsumed(e2);

        // 10:00:30.250 to 10:02:10: 99.75 s of the first box, none of the second. The same range with an offset.
        foreach (var query in new[]
                 {
                     "?from=2026-06-10T10:00:30.250Z&to=2026-06-10T10:02:10Z",
                     "?from=2026-06-10T12:00:30.250%2B02:00&to=2026-06-10T12:02:10%2B02:00",
                 })
        {
            var usage = await host.Usage(org, query);
            Assert.Equal(399m, usage["totalVcpuSeconds"]!.GetValue<decimal>());
            Assert.Equal(1, usage["totalSessions"]!.GetValue<int>());
            Assert.Equal(0.027708m, usage["totalBrowserHours"]!.GetValue<decimal>());
            Assert.Equal("2026-06-10T10:00:30.250Z", usage["period"]!["from"]!.GetValue<string>());
            Assert.Equal("2026-06-10T10:02:10.000Z", usage["period"]!["to"]!.GetValue<string>());
        }

        // A range that touches a box only at an edge does not count it.
        var touching = await host.Usage(org, "?from=2026-06-10T10:03:00Z&to=2026-06-10T10:05:00Z");
        Assert.Equal(0, touching["totalSessions"]!.GetValue<int>());
        Assert.Equal(0m, touching["totalVcpuSeconds"]!.GetValue<decimal>());
    }

    [Fact]
    public async Task Usage_is_only_the_organisations_own()
    {
        var org = Guid.NewGuid();
        var other = Guid.NewGuid();
        var (_, mine) = await host.RanBox(org, BoxKinds.Browser, "light", BillingHost.At("2026-06-11T10:00:00Z"), BillingHost.At("2026-06-11T10:00:10Z"));
        var (_, theirs) = await host.RanBox(other, BoxKinds.Browser, "heavy", BillingHost.At("2026-06-11T10:00:00Z"), BillingHost.At("2026-06-11T10:10:00Z"));
        await host.WaitUntilConsumed(mine);
        await host.WaitUntilConsumed(theirs);

        var usage = await host.Usage(org, "?from=2026-06-11&to=2026-06-12");
        Assert.Equal(1, usage["totalSessions"]!.GetValue<int>());
        Assert.Equal(10m, usage["totalVcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal(0, (await host.Usage(Guid.NewGuid(), "?from=2026-06-11&to=2026-06-12"))["totalSessions"]!.GetValue<int>());
    }

    [Fact]
    public async Task Usage_of_a_running_box_is_current_and_counted_once_while_its_pieces_are_written()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-06-12T10:00:00.000Z");
        var box = await host.RequestBox(org, BoxKinds.Sandbox, "standard", t0.AddSeconds(-1));
        var ready = await host.Ready(box, t0);
        await host.WaitUntilConsumed(ready);

        // Each step moves the clock past another piece's due time, and usage is read over and over until the closer
        // (every 100 ms) has written that piece: every answer is exact, so a piece is never counted both as a record
        // and as the running box's unwritten time, nor as neither.
        var reads = 0;
        for (var step = 1; step <= 25; step++)
        {
            var at = t0.AddMilliseconds(step * 37_003);
            host.Clock.Freeze(at);
            var expected = 2m * (decimal)(at - t0).TotalMilliseconds / 1000m;
            var due = Math.Max(0, (long)(at - t0 - TimeSpan.FromSeconds(10)).TotalMilliseconds / 60_000);
            await Boxes.Testing.Eventually.Until(async () =>
            {
                var answers = await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
                    (await host.Usage(org, "?from=2026-06-12&to=2026-06-13"))["totalVcpuSeconds"]!.GetValue<decimal>()));
                reads += answers.Length;
                Assert.All(answers, a => Assert.Equal(expected, a));
                return (await host.Records(box.BoxId)).Count;
            }, count => count == due, TimeSpan.FromSeconds(30), $"piece {due} written at step {step}");
        }
        Assert.Equal(15, (await host.Records(box.BoxId)).Count); // 925.075 s: fifteen minutes over by 10 s
        Assert.True(reads >= 100, $"only {reads} reads");

        var end = await host.End(box, t0.AddMinutes(16));
        await host.WaitUntilConsumed(end);
        Assert.Equal(1920m, (await host.Usage(org, "?from=2026-06-12&to=2026-06-13"))["totalVcpuSeconds"]!.GetValue<decimal>());
    }
}
