using Boxes.Billing.Metering;
using Boxes.Billing.Tests.Infrastructure;
using Boxes.Contracts;
using Boxes.EventStore;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>However often the bus delivers an event, and however many billing processes consume it, it is counted once.</summary>
public sealed class RedeliveryTests(BillingHost host) : IClassFixture<BillingHost>
{
    [Theory]
    [InlineData(2)]
    [InlineData(10)]
    [InlineData(100)]
    public async Task The_same_event_delivered_again_is_counted_once(int deliveries)
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-04-01T10:00:00.010Z").AddDays(deliveries);
        var box = await host.RequestBox(org, BoxKinds.Browser, "medium", t0.AddSeconds(-1));
        var ready = await host.Ready(box, t0);
        var end = await host.End(box, t0.AddMilliseconds(125_999));
        await host.WaitUntilConsumed(end);
        var first = await host.Records(box.BoxId);

        for (var i = 1; i < deliveries; i++)
        {
            await host.Publish(ready);
            await host.Publish(end);
        }
        await host.WaitUntilConsumed(ready, deliveries);
        await host.WaitUntilConsumed(end, deliveries);

        var records = await host.Records(box.BoxId);
        Assert.Equal(first, records);
        Assert.Equal([60_000L, 60_000, 5_999], records.Select(r => r.DurationMs));
        Assert.Equal(2 * 125_999L, records.Sum(r => r.VcpuMs));
        var usage = await host.Usage(org, $"?from={t0.AddHours(-1):O}&to={t0.AddHours(1):O}".Replace("+", "%2B"));
        Assert.Equal(251.998m, usage["totalVcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal(1, usage["totalSessions"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_hundred_concurrent_deliveries_of_every_event_are_counted_once()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-04-20T10:00:00.000Z");
        var box = await host.RequestBox(org, BoxKinds.Sandbox, "standard", t0.AddSeconds(-1));
        var events = new List<RecordedEvent>
        {
            box.Requested,
            await host.Ready(box, t0),
            await host.Pause(box, t0.AddMilliseconds(61_500)),
            await host.Resume(box, t0.AddSeconds(200)),
            await host.End(box, t0.AddMilliseconds(262_250)),
        };

        // Not waiting for the relay's own deliveries: the copies race them, in no particular order.
        var copies = events.SelectMany(e => Enumerable.Repeat(e, 100)).OrderBy(_ => Random.Shared.Next()).ToList();
        await Task.WhenAll(copies.Select(e => Task.Run(() => host.Publish(e))));
        foreach (var e in events) await host.WaitUntilConsumed(e, 101);

        var records = await host.Records(box.BoxId);
        Assert.Equal(
            ["10:00:00.000-10:01:00.000", "10:01:00.000-10:01:01.500", "10:03:20.000-10:04:20.000", "10:04:20.000-10:04:22.250"],
            records.Select(r => $"{r.Start:HH:mm:ss.fff}-{r.End:HH:mm:ss.fff}"));
        Assert.Equal(2 * (61_500L + 62_250), records.Sum(r => r.VcpuMs));
        Assert.False(await host.IsRunning(box.BoxId));
    }

    [Fact]
    public async Task Two_billing_processes_consuming_the_same_events_count_once()
    {
        var org = Guid.NewGuid();
        await using var second = host.StartService();
        var t0 = BillingHost.At("2026-04-25T10:00:00.000Z");

        var boxes = new List<TestBox>();
        var events = new List<RecordedEvent>();
        for (var i = 0; i < 10; i++)
        {
            var box = await host.RequestBox(org, BoxKinds.Browser, "light", t0.AddSeconds(i));
            boxes.Add(box);
            events.Add(box.Requested);
            events.Add(await host.Ready(box, t0.AddSeconds(i)));
        }
        var ends = new List<RecordedEvent>();
        for (var i = 0; i < 10; i++) ends.Add(await host.End(boxes[i], t0.AddSeconds(i).AddMilliseconds(61_001 + i)));
        events.AddRange(ends);
        // Each event twice more: with two consumers on the queue the copies land on both processes.
        foreach (var e in events)
        {
            await host.Publish(e);
            await host.Publish(e);
        }
        foreach (var e in events) await host.WaitUntilConsumed(e, 3);
        Assert.True(host.Service.Consumed.Total > 0 && second.Consumed.Total > 0,
            $"one process consumed everything ({host.Service.Consumed.Total} / {second.Consumed.Total}), so this proves nothing about two");

        for (var i = 0; i < 10; i++)
        {
            var records = await host.Records(boxes[i].BoxId);
            Assert.Equal([60_000L, 1_001 + i], records.Select(r => r.DurationMs));
        }
        var usage = await host.Usage(org, "?from=2026-04-25T00:00:00Z&to=2026-04-26T00:00:00Z");
        Assert.Equal(10, usage["totalSessions"]!.GetValue<int>());
        Assert.Equal(610.055m, usage["totalVcpuSeconds"]!.GetValue<decimal>());
    }

    [Fact]
    public async Task A_writer_that_read_an_older_stream_changes_nothing()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-04-28T10:00:00.000Z");
        var (box, end) = await host.RanBox(org, BoxKinds.Browser, "light", t0, t0.AddSeconds(30));
        await host.WaitUntilConsumed(end);
        var records = await host.Records(box.BoxId);

        // A consumer that read the stream while the box was still running and reaches its transaction only now, long
        // after the end was metered: with its stale stream the box would look open for five minutes.
        var stream = await host.Store.ReadStreamAsync(Streams.ForBox(box.BoxId));
        var stale = stream.TakeWhile(e => e.Type != nameof(BoxEnded)).ToList();
        var meter = host.Service.Services.GetRequiredService<BoxMeter>();
        Assert.Equal(0, await meter.ApplyAsync(box.BoxId, stale, t0.AddMinutes(5), CancellationToken.None));

        Assert.Equal(records, await host.Records(box.BoxId));
        Assert.False(await host.IsRunning(box.BoxId));
    }
}
