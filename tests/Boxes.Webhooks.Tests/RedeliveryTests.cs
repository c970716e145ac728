using Boxes.Contracts;
using Boxes.Webhooks.Tests.Infrastructure;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>Exactly one delivery sequence per event and endpoint, whatever the bus and the number of webhooks processes do.</summary>
public sealed class RedeliveryTests(WebhooksHost host) : IClassFixture<WebhooksHost>
{
    [Fact]
    public async Task An_event_the_bus_delivers_three_times_makes_one_delivery()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        var webhook = await host.CreateWebhook(org, host.Receiver.Url(path), "session.queued");

        var (_, requested) = await host.RequestBox(org, BoxKinds.Browser, DateTimeOffset.UtcNow);
        await host.WaitUntilConsumed(requested);
        await host.PublishAgain(requested);
        await host.PublishAgain(requested);
        await host.WaitUntilConsumed(requested, times: 3);

        var row = Assert.Single(await host.DeliveryRows(webhook.Id));
        Assert.Equal(requested.EventId, row.EventId);
        await host.WaitForDelivery(org, webhook.Id, row.DeliveryId, d => WebhooksHost.Status(d) == "succeeded", "the delivery to succeed");
        Assert.Single(host.Receiver.Received(path));
    }

    [Fact]
    public async Task Two_service_instances_consuming_and_delivering_at_once_make_one_delivery_sequence_per_event()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        var webhook = await host.CreateWebhook(org, host.Receiver.Url(path), "session.queued");
        await using var second = host.StartService();

        var events = new List<Boxes.EventStore.RecordedEvent>();
        for (var i = 0; i < 12; i++) events.Add((await host.RequestBox(org, BoxKinds.Browser, DateTimeOffset.UtcNow)).Requested);
        // Each event again, twice: with two consumers on the queue the copies land on both instances.
        foreach (var e in events)
        {
            await host.PublishAgain(e);
            await host.PublishAgain(e);
        }
        foreach (var e in events) await host.WaitUntilConsumed(e, times: 3);
        Assert.True(host.Service.Consumed.Total > 0 && second.Consumed.Total > 0,
            $"one instance consumed everything ({host.Service.Consumed.Total} / {second.Consumed.Total}), so this proves nothing about two");

        var rows = await host.DeliveryRows(webhook.Id);
        Assert.Equal(events.Select(e => e.EventId).Order(), rows.Select(r => r.EventId).Order());
        var received = await host.Receiver.WaitFor(path, 12);
        await Boxes.Testing.Eventually.Until(async () => (await host.Deliveries(org, webhook.Id)).All(d => WebhooksHost.Status(d!) == "succeeded"),
            TimeSpan.FromSeconds(30), "all 12 deliveries to succeed");
        // Two delivery loops claimed from one table: still one request per delivery.
        received = host.Receiver.Received(path);
        Assert.Equal(12, received.Count);
        Assert.Equal(rows.Select(r => r.DeliveryId.ToString()).Order(), received.Select(r => r.Id!).Order());
        Assert.All(await host.Deliveries(org, webhook.Id), d => Assert.Single(WebhooksHost.Attempts(d!)));
    }
}
