using Boxes.Webhooks.Tests.Infrastructure;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>The service with a retry 4 s after the first attempt: long enough to stop it and start another in between.</summary>
public sealed class RestartHost : WebhooksHost
{
    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Webhooks:RetrySchedule"] = "0s,4s";
        settings["Webhooks:Jitter"] = "0";
    }
}

/// <summary>The retry schedule lives in the database: a service stopped with a retry pending and started again still sends it on time.</summary>
public sealed class PersistedScheduleTests(RestartHost host) : IClassFixture<RestartHost>
{
    [Fact]
    public async Task A_retry_pending_when_the_service_stops_fires_on_time_after_a_new_one_starts()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        host.Receiver.Script(path, new Reply(500), Reply.Ok);
        var webhook = await host.CreateWebhook(org, host.Receiver.Url(path), "session.ready");
        var deliveryId = await host.SendTest(org, webhook.Id);

        var pending = await host.WaitForDelivery(org, webhook.Id, deliveryId,
            d => WebhooksHost.Attempts(d).Count == 1 && WebhooksHost.Status(d) == "pending", "the first attempt to fail with a retry pending");
        var due = DateTimeOffset.Parse(pending["nextAttemptAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);

        await host.Service.DisposeAsync();
        Assert.True(DateTimeOffset.UtcNow < due, "stopping the service took longer than the retry's wait, so the test proves nothing");
        Assert.Single(host.Receiver.Received(path));

        host.Service = host.StartService();
        var requests = await host.Receiver.WaitFor(path, 2);
        Assert.Equal(2, requests.Count);
        Assert.Equal(requests[0].Id, requests[1].Id);
        Assert.True(requests[1].At >= due.AddMilliseconds(-50), $"the retry came at {requests[1].At:O}, before it was due at {due:O}");
        Assert.True(requests[1].At <= due.AddSeconds(3), $"the retry came at {requests[1].At:O}, long after it was due at {due:O}");
        var delivered = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "succeeded", "the retry to succeed");
        Assert.Equal([500, 200], WebhooksHost.Attempts(delivered).Select(a => a!["statusCode"]!.GetValue<int>()));
    }
}
