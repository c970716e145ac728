using System.Net;
using Boxes.Webhooks.Tests.Infrastructure;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>Retries 2 s apart, so that the test moves the clock between two attempts; the default 5 days before disabling.</summary>
public sealed class DisableHost : WebhooksHost
{
    protected override void Configure(IDictionary<string, string?> settings) =>
        settings["Webhooks:RetrySchedule"] = "0s,2s,2s";
}

/// <summary>An endpoint that has failed everything for more than five days is disabled, and says why.</summary>
public sealed class EndpointDisableTests(DisableHost host) : IClassFixture<DisableHost>
{
    [Fact]
    public async Task An_endpoint_failing_for_more_than_five_days_is_disabled_at_its_next_failure_with_the_reason()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        host.Receiver.Script(path, new Reply(500));
        var webhook = await host.CreateWebhook(org, host.Receiver.Url(path), "session.ready");
        var deliveryId = await host.SendTest(org, webhook.Id);

        await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Attempts(d).Count == 1, "the first failure");
        var failing = await host.Webhook(org, webhook.Id);
        Assert.Equal("active", failing["status"]!.GetValue<string>());
        Assert.NotNull(failing["failingSince"]);

        host.Clock.Advance(TimeSpan.FromDays(5) + TimeSpan.FromMinutes(1));
        var stopped = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "failed", "the delivery to stop");
        Assert.Equal(2, WebhooksHost.Attempts(stopped).Count);
        var disabled = await host.Webhook(org, webhook.Id);
        Assert.Equal("disabled", disabled["status"]!.GetValue<string>());
        var reason = disabled["disabledReason"]!.GetValue<string>();
        Assert.Contains("more than 5 days", reason);
        Assert.Contains("answered 500", reason);
        var listed = (await host.GetJson($"/internal/organizations/{org}/webhooks"))["items"]!.AsArray().Single();
        Assert.Equal(reason, listed!["disabledReason"]!.GetValue<string>());

        var test = await host.Client().PostAsync($"/internal/organizations/{org}/webhooks/{webhook.Id}/test", null);
        Assert.Equal(HttpStatusCode.Conflict, test.StatusCode);
        var enabled = await host.PostJson($"/internal/organizations/{org}/webhooks/{webhook.Id}/enable");
        Assert.Equal("active", enabled["status"]!.GetValue<string>());
        Assert.Null(enabled["failingSince"]);
        Assert.Null(enabled["disabledAt"]);
    }

    [Fact]
    public async Task A_success_clears_the_failure_record_so_five_days_count_from_the_next_failure()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        host.Receiver.Script(path, new Reply(500), Reply.Ok, new Reply(500));
        var webhook = await host.CreateWebhook(org, host.Receiver.Url(path), "session.ready");

        var first = await host.SendTest(org, webhook.Id);
        await host.WaitForDelivery(org, webhook.Id, first, d => WebhooksHost.Status(d) == "succeeded", "success on the retry");
        Assert.Null((await host.Webhook(org, webhook.Id))["failingSince"]);

        host.Clock.Advance(TimeSpan.FromDays(6));
        var second = await host.SendTest(org, webhook.Id);
        await host.WaitForDelivery(org, webhook.Id, second, d => WebhooksHost.Attempts(d).Count == 1, "a new failure");
        var endpoint = await host.Webhook(org, webhook.Id);
        Assert.Equal("active", endpoint["status"]!.GetValue<string>());
        Assert.NotNull(endpoint["failingSince"]);
    }
}
