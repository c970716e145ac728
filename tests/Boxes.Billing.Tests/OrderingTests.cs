using Boxes.Billing.Tests.Infrastructure;
using Boxes.Contracts;
using Boxes.EventStore;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>No relay: the tests deliver each box's events themselves, exactly as the relay would, in the order they choose.</summary>
public sealed class OrderingHost : BillingHost
{
    protected override bool RunsRelay => false;
}

/// <summary>Events delivered out of order, late, or not at all still give the right total: every event is read against the box's whole stream.</summary>
public sealed class OrderingTests(OrderingHost host) : IClassFixture<OrderingHost>
{
    private static string Spans(IEnumerable<StoredRecord> records) =>
        string.Join(", ", records.Select(r => $"{r.Start:HH:mm:ss.fff}-{r.End:HH:mm:ss.fff}"));

    [Fact]
    public async Task BoxEnded_delivered_before_BoxReady_gives_the_right_total()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-06-01T10:00:00.000Z");
        var box = await host.RequestBox(org, BoxKinds.Browser, "medium", t0.AddSeconds(-1));
        var ready = await host.Ready(box, t0);
        var end = await host.End(box, t0.AddMilliseconds(150_500));

        await host.Publish(end);
        await host.WaitUntilConsumed(end);
        var records = await host.Records(box.BoxId);
        Assert.Equal("10:00:00.000-10:01:00.000, 10:01:00.000-10:02:00.000, 10:02:00.000-10:02:30.500", Spans(records));
        Assert.Equal(2 * 150_500L, records.Sum(r => r.VcpuMs));

        await host.Publish(ready);
        await host.Publish(box.Requested);
        await host.WaitUntilConsumed(ready);
        await host.WaitUntilConsumed(box.Requested);
        Assert.Equal(records, await host.Records(box.BoxId));
        Assert.False(await host.IsRunning(box.BoxId));
    }

    [Fact]
    public async Task Events_delivered_in_reverse_order_give_the_right_total()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-06-02T10:00:00.000Z");
        var box = await host.RequestBox(org, BoxKinds.Sandbox, "standard", t0.AddSeconds(-1));
        var events = new List<RecordedEvent>
        {
            box.Requested,
            await host.Ready(box, t0),
            await host.Pause(box, t0.AddSeconds(30)),
            await host.Resume(box, t0.AddSeconds(90)),
            await host.Pause(box, t0.AddSeconds(100)),
            await host.Resume(box, t0.AddSeconds(160)),
            await host.End(box, t0.AddMilliseconds(170_001)),
        };

        foreach (var e in Enumerable.Reverse(events)) await host.Publish(e);
        foreach (var e in events) await host.WaitUntilConsumed(e);

        var records = await host.Records(box.BoxId);
        Assert.Equal("10:00:00.000-10:00:30.000, 10:01:30.000-10:01:40.000, 10:02:40.000-10:02:50.001", Spans(records));
        Assert.Equal(2 * 50_001L, records.Sum(r => r.VcpuMs));
    }

    [Fact]
    public async Task A_box_whose_ready_is_never_delivered_is_metered_when_its_end_arrives()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-06-03T10:00:00.000Z");
        var box = await host.RequestBox(org, BoxKinds.Browser, "light", t0.AddSeconds(-1));
        await host.Ready(box, t0);
        var end = await host.End(box, t0.AddSeconds(61));

        await host.Publish(end);
        await host.WaitUntilConsumed(end);
        Assert.Equal([60_000L, 1_000], (await host.Records(box.BoxId)).Select(r => r.VcpuMs));
    }

    [Fact]
    public async Task An_event_delivered_days_late_changes_nothing()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-06-04T10:00:00.000Z");
        var box = await host.RequestBox(org, BoxKinds.Browser, "heavy", t0.AddSeconds(-1));
        var ready = await host.Ready(box, t0);
        var end = await host.End(box, t0.AddSeconds(75));
        await host.Publish(end);
        await host.WaitUntilConsumed(end);
        var records = await host.Records(box.BoxId);

        // Three days on, the BoxReady that was held up somewhere finally arrives.
        host.Clock.Freeze(t0.AddDays(3));
        await host.Publish(ready);
        await host.WaitUntilConsumed(ready);

        Assert.Equal(records, await host.Records(box.BoxId));
        Assert.Equal(4 * 75_000L, records.Sum(r => r.VcpuMs));
        Assert.False(await host.IsRunning(box.BoxId));
    }

    [Fact]
    public async Task A_pause_appended_a_moment_late_with_an_earlier_timestamp_still_counts()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-06-05T10:00:00.000Z");
        var box = await host.RequestBox(org, BoxKinds.Sandbox, "standard", t0.AddSeconds(-1));
        var ready = await host.Ready(box, t0);
        await host.Publish(ready);
        await host.WaitUntilConsumed(ready);

        // 65 s on, the first minute is over but not yet by Billing:Grace (10 s). Metering runs at this moment (the
        // redelivered BoxReady; the closer too) while the pause stamped 58 s is still on its way to the store.
        host.Clock.Freeze(t0.AddSeconds(65));
        await host.Publish(ready);
        await host.WaitUntilConsumed(ready, 2);
        Assert.Empty(await host.Records(box.BoxId));

        var pause = await host.AppendLate(box.BoxId, new BoxPaused(box.BoxId, t0.AddSeconds(58)));
        await host.Publish(pause);
        await host.WaitUntilConsumed(pause);
        Assert.Equal("10:00:00.000-10:00:58.000", Spans(await host.Records(box.BoxId)));

        var resume = await host.Resume(box, t0.AddSeconds(66));
        var end = await host.End(box, t0.AddSeconds(101));
        await host.Publish(resume);
        await host.Publish(end);
        await host.WaitUntilConsumed(end);
        var records = await host.Records(box.BoxId);
        Assert.Equal("10:00:00.000-10:00:58.000, 10:01:06.000-10:01:41.000", Spans(records));
        Assert.Equal(2 * (58_000L + 35_000), records.Sum(r => r.VcpuMs));
    }
}
