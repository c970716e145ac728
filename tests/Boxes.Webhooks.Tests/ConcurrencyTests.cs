using Boxes.Testing;
using Boxes.Webhooks.Tests.Infrastructure;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>A long timeout (so held requests stay in flight) and a cap of 2 in flight per endpoint.</summary>
public sealed class ConcurrencyHost : WebhooksHost
{
    public const int Cap = 2;

    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Webhooks:DeliveryTimeout"] = "00:00:30";
        settings["Webhooks:MaxInFlightPerEndpoint"] = Cap.ToString(System.Globalization.CultureInfo.InvariantCulture);
    }
}

/// <summary>Deliveries run concurrently across endpoints with a bounded number in flight per endpoint.</summary>
public sealed class ConcurrencyTests(ConcurrencyHost host) : IClassFixture<ConcurrencyHost>
{
    [Fact]
    public async Task A_slow_endpoint_does_not_delay_a_fast_one_and_never_has_more_than_the_cap_in_flight()
    {
        var (slowOrg, fastOrg) = (Guid.NewGuid(), Guid.NewGuid());
        var (slowPath, fastPath) = (WebhooksHost.NewPath(), WebhooksHost.NewPath());
        host.Receiver.Script(slowPath, new Reply(200) { Hold = true });
        var slow = await host.CreateWebhook(slowOrg, host.Receiver.Url(slowPath), "session.ready");
        var fast = await host.CreateWebhook(fastOrg, host.Receiver.Url(fastPath), "session.ready");

        // A backlog for the slow endpoint first, so that its deliveries are the oldest due ones.
        for (var i = 0; i < 10; i++) await host.SendTest(slowOrg, slow.Id);
        await host.Receiver.WaitFor(slowPath, ConcurrencyHost.Cap);

        var sent = DateTimeOffset.UtcNow;
        for (var i = 0; i < 3; i++) await host.SendTest(fastOrg, fast.Id);
        var fastRequests = await host.Receiver.WaitFor(fastPath, 3, TimeSpan.FromSeconds(10));
        Assert.True(fastRequests[^1].At - sent < TimeSpan.FromSeconds(3),
            $"the fast endpoint waited {(fastRequests[^1].At - sent).TotalMilliseconds:0} ms behind the slow one");
        Assert.Equal(ConcurrencyHost.Cap, host.Receiver.Received(slowPath).Count);
        Assert.Equal(ConcurrencyHost.Cap, host.Receiver.InFlight(slowPath));

        // Released, the backlog drains, never more than the cap at once.
        host.Receiver.Release(slowPath);
        await host.Receiver.WaitFor(slowPath, 10);
        await Eventually.Until(async () => (await host.Deliveries(slowOrg, slow.Id)).All(d => WebhooksHost.Status(d!) == "succeeded"),
            TimeSpan.FromSeconds(30), "the slow endpoint's backlog to drain");
        Assert.Equal(ConcurrencyHost.Cap, host.Receiver.MaxInFlight(slowPath));
        Assert.Equal(10, host.Receiver.Received(slowPath).Count);
    }
}
