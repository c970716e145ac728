using Boxes.Billing.Metering;
using Boxes.Billing.Tests.Infrastructure;
using Boxes.Contracts;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>The service on the real clock with 300 ms pieces, 50 ms of grace and a closer every 50 ms.</summary>
public sealed class RealTimeHost : BillingHost
{
    protected override bool ClockFollowsEvents => false;

    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Billing:IntervalLength"] = "00:00:00.300";
        settings["Billing:Grace"] = "00:00:00.050";
        settings["Billing:CloseEvery"] = "00:00:00.050";
    }
}

/// <summary>Metering as time really passes: nothing moves the clock, and records appear while the box runs.</summary>
public sealed class RealTimeTests(RealTimeHost host) : IClassFixture<RealTimeHost>
{
    [Fact]
    public async Task Records_appear_while_a_box_runs_and_its_end_closes_the_last_one()
    {
        var org = Guid.NewGuid();
        var readyAt = DateTimeOffset.UtcNow;
        var box = await host.RequestBox(org, BoxKinds.Browser, "medium", readyAt);
        await host.Ready(box, readyAt);

        var running = await host.WaitForRecords(box.BoxId, r => r.Count >= 3, "three pieces written while the box runs");
        Assert.True(await host.IsRunning(box.BoxId));
        var start = Pieces.ToMillisecond(readyAt);
        for (var i = 0; i < running.Count; i++)
        {
            Assert.Equal(start.AddMilliseconds(300 * i), running[i].Start);
            Assert.Equal(300, running[i].DurationMs);
        }

        // Usage is current: at least what is written, at most the time since ready.
        var query = $"?from={readyAt.AddHours(-1):yyyy-MM-ddTHH:mm:ss.fffZ}&to={readyAt.AddHours(1):yyyy-MM-ddTHH:mm:ss.fffZ}";
        var usage = (await host.Usage(org, query))["totalVcpuSeconds"]!.GetValue<decimal>();
        var upper = 2m * (decimal)(DateTimeOffset.UtcNow - start).TotalSeconds;
        Assert.InRange(usage, running.Sum(r => r.VcpuMs) / 1000m, upper);

        var endedAt = DateTimeOffset.UtcNow;
        var end = await host.End(box, endedAt);
        await host.WaitUntilConsumed(end);
        var records = await host.Records(box.BoxId);
        var ms = (long)(Pieces.ToMillisecond(endedAt) - start).TotalMilliseconds;
        Assert.Equal(ms, records.Sum(r => r.DurationMs));
        Assert.Equal(2 * ms, records.Sum(r => r.VcpuMs));
        Assert.Equal(2m * ms / 1000m, (await host.Usage(org, query))["totalVcpuSeconds"]!.GetValue<decimal>());
        Assert.False(await host.IsRunning(box.BoxId));
    }
}
