using System.Text.Json.Nodes;
using Boxes.Contracts;
using Boxes.Testing;
using Boxes.Webhooks.Tests.Infrastructure;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>The service with a 1 s timeout and a schedule of 0 s, 300 ms, 300 ms, 300 ms (four attempts).</summary>
public sealed class RetryHost : WebhooksHost
{
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(1);

    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Webhooks:DeliveryTimeout"] = Timeout.ToString();
        settings["Webhooks:RetrySchedule"] = "0s,300ms,300ms,300ms";
    }
}

/// <summary>What makes a delivery try again, what does not, and what the log says about each attempt.</summary>
public sealed class RetryTests(RetryHost host) : IClassFixture<RetryHost>
{
    private static DateTimeOffset At(JsonNode attempt, string field = "at") =>
        DateTimeOffset.Parse(attempt[field]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);

    private async Task<(Guid Org, CreatedWebhook Webhook, Guid DeliveryId)> TestEventTo(string url)
    {
        var org = Guid.NewGuid();
        var webhook = await host.CreateWebhook(org, url, "session.ready");
        return (org, webhook, await host.SendTest(org, webhook.Id));
    }

    [Fact]
    public async Task A_5xx_is_retried_with_the_same_webhook_id_and_each_attempt_signed_with_its_own_timestamp()
    {
        var path = WebhooksHost.NewPath();
        host.Receiver.Script(path, new Reply(500), new Reply(503), Reply.Ok);
        var (org, webhook, deliveryId) = await TestEventTo(host.Receiver.Url(path));

        await host.Receiver.WaitFor(path, 1);
        // A minute passes before the retries, so their webhook-timestamp must differ from the first attempt's.
        host.Clock.Advance(TimeSpan.FromMinutes(1));
        var requests = await host.Receiver.WaitFor(path, 3);

        Assert.Equal(3, requests.Count);
        Assert.All(requests, r => Assert.Equal(deliveryId.ToString(), r.Id));
        Assert.All(requests, r => Assert.Equal(requests[0].Body, r.Body));
        var now = DateTimeOffset.UtcNow + host.Clock.Offset;
        Assert.All(requests, r => Assert.True(r.VerifiesWith(webhook.Secret, now, out var why), why));
        var stamps = requests.Select(r => long.Parse(r.Timestamp!, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        Assert.True(stamps[1] >= stamps[0] + 60, $"the retry's webhook-timestamp {stamps[1]} is not a minute after {stamps[0]}");
        Assert.NotEqual(requests[0].Signature, requests[1].Signature);

        var delivery = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "succeeded", "success on attempt 3");
        var attempts = WebhooksHost.Attempts(delivery);
        Assert.Equal([500, 503, 200], attempts.Select(a => a!["statusCode"]!.GetValue<int>()));
        Assert.Equal("answered 500 Internal Server Error", attempts[0]!["error"]!.GetValue<string>());
        Assert.NotNull(attempts[0]!["nextAttemptAt"]);
        Assert.True(At(attempts[1]!) >= At(attempts[0]!, "nextAttemptAt").AddMilliseconds(-5), "attempt 2 ran before its scheduled time");
        Assert.Null(attempts[2]!["nextAttemptAt"]);
    }

    [Fact]
    public async Task A_timeout_is_retried_and_logged_without_a_status_code()
    {
        var path = WebhooksHost.NewPath();
        host.Receiver.Script(path, new Reply(200) { Delay = TimeSpan.FromSeconds(10) }, Reply.Ok);
        var (org, webhook, deliveryId) = await TestEventTo(host.Receiver.Url(path));

        var delivery = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "succeeded", "success after a timeout");
        var attempts = WebhooksHost.Attempts(delivery);
        Assert.Equal(2, attempts.Count);
        Assert.Null(attempts[0]!["statusCode"]);
        Assert.Equal("timed out after 1 s", attempts[0]!["error"]!.GetValue<string>());
        Assert.InRange(attempts[0]!["durationMs"]!.GetValue<int>(), 900, 5000);
        Assert.Equal(200, attempts[1]!["statusCode"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_refused_connection_is_retried_until_the_endpoint_listens()
    {
        var port = WebhooksHost.ClosedPort();
        var (org, webhook, deliveryId) = await TestEventTo($"http://127.0.0.1:{port}/late");

        var refused = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Attempts(d).Count >= 1, "a refused attempt");
        Assert.Equal("connection refused", WebhooksHost.Attempts(refused)[0]!["error"]!.GetValue<string>());
        Assert.Null(WebhooksHost.Attempts(refused)[0]!["statusCode"]);

        await using var late = await ScriptedWebhookReceiver.StartAsync(port: port);
        var delivered = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) is "succeeded" or "failed", "the delivery to finish");
        // Four attempts 300 ms apart leave time for the receiver to start; if it lost that race the test says so.
        Assert.True(WebhooksHost.Status(delivered) == "succeeded", $"the endpoint started too late: {delivered.ToJsonString()}");
        Assert.Single(late.Received("late"));
    }

    [Fact]
    public async Task A_429_with_Retry_After_waits_as_long_as_the_endpoint_asked()
    {
        var path = WebhooksHost.NewPath();
        host.Receiver.Script(path, Reply.With(429, ("Retry-After", "2")), Reply.Ok);
        var (org, webhook, deliveryId) = await TestEventTo(host.Receiver.Url(path));

        var requests = await host.Receiver.WaitFor(path, 2);
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromSeconds(1.9),
            $"the retry came {(requests[1].At - requests[0].At).TotalMilliseconds:0} ms after the 429, not the 2 s it asked for (the schedule says 300 ms)");
        var delivery = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "succeeded", "success after the 429");
        var first = WebhooksHost.Attempts(delivery)[0]!;
        Assert.Equal(429, first["statusCode"]!.GetValue<int>());
        Assert.True(At(first, "nextAttemptAt") - At(first) >= TimeSpan.FromSeconds(2));
    }

    [Fact]
    public async Task A_503_with_Retry_After_as_an_HTTP_date_is_honoured_too()
    {
        var path = WebhooksHost.NewPath();
        host.Receiver.Script(path, Reply.With(503, ("Retry-After", DateTimeOffset.UtcNow.AddSeconds(3).ToString("R"))), Reply.Ok);
        var (org, webhook, deliveryId) = await TestEventTo(host.Receiver.Url(path));

        var requests = await host.Receiver.WaitFor(path, 2);
        Assert.True(requests[1].At - requests[0].At >= TimeSpan.FromSeconds(1),
            $"the retry came {(requests[1].At - requests[0].At).TotalMilliseconds:0} ms after the 503 that asked to wait until a date 3 s ahead");
        await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "succeeded", "success after the 503");
    }

    [Fact]
    public async Task A_redirect_is_not_followed_and_counts_as_a_failure()
    {
        var (path, elsewhere) = (WebhooksHost.NewPath(), WebhooksHost.NewPath());
        host.Receiver.Script(path, Reply.With(302, ("Location", host.Receiver.Url(elsewhere))), Reply.Ok);
        var (org, webhook, deliveryId) = await TestEventTo(host.Receiver.Url(path));

        var delivery = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "succeeded", "success after the redirect");
        var first = WebhooksHost.Attempts(delivery)[0]!;
        Assert.Equal(302, first["statusCode"]!.GetValue<int>());
        Assert.Contains("redirects are not followed", first["error"]!.GetValue<string>());
        Assert.Equal(2, host.Receiver.Received(path).Count);
        Assert.Empty(host.Receiver.Received(elsewhere));
    }

    [Fact]
    public async Task A_410_disables_the_endpoint_with_the_reason_and_stops_its_deliveries_until_it_is_enabled()
    {
        var path = WebhooksHost.NewPath();
        host.Receiver.Script(path, new Reply(410), Reply.Ok);
        var (org, webhook, deliveryId) = await TestEventTo(host.Receiver.Url(path));

        var delivery = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "failed", "the delivery to fail on 410");
        Assert.Single(WebhooksHost.Attempts(delivery));
        Assert.Null(delivery["nextAttemptAt"]);
        var endpoint = await host.Webhook(org, webhook.Id);
        Assert.Equal("disabled", endpoint["status"]!.GetValue<string>());
        Assert.Contains("410 Gone", endpoint["disabledReason"]!.GetValue<string>());
        Assert.NotNull(endpoint["disabledAt"]);

        // Disabled: events make no deliveries and the test route refuses.
        var (boxId, _) = await host.RequestBox(org, BoxKinds.Browser, DateTimeOffset.UtcNow);
        var ready = await host.MakeReady(boxId, DateTimeOffset.UtcNow);
        await host.WaitUntilConsumed(ready);
        Assert.Equal([deliveryId], (await host.DeliveryRows(webhook.Id)).Select(r => r.DeliveryId));
        var test = await host.Client().PostAsync($"/internal/organizations/{org}/webhooks/{webhook.Id}/test", null);
        Assert.Equal(System.Net.HttpStatusCode.Conflict, test.StatusCode);

        var enabled = await host.PostJson($"/internal/organizations/{org}/webhooks/{webhook.Id}/enable");
        Assert.Equal("active", enabled["status"]!.GetValue<string>());
        Assert.Null(enabled["disabledReason"]);
        await host.SendTest(org, webhook.Id);
        await host.Receiver.WaitFor(path, 2);
        Assert.Single(host.Receiver.Received(path), r => r.Id == deliveryId.ToString());
    }

    [Fact]
    public async Task A_delivery_that_fails_every_attempt_gives_up_after_the_last_one_in_the_schedule()
    {
        var path = WebhooksHost.NewPath();
        host.Receiver.Script(path, new Reply(500));
        var (org, webhook, deliveryId) = await TestEventTo(host.Receiver.Url(path));

        var delivery = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "failed", "the delivery to give up");
        var attempts = WebhooksHost.Attempts(delivery);
        Assert.Equal([1, 2, 3, 4], attempts.Select(a => a!["attempt"]!.GetValue<int>()));
        Assert.All(attempts.Take(3), a => Assert.NotNull(a!["nextAttemptAt"]));
        Assert.Null(attempts[3]!["nextAttemptAt"]);
        Assert.Null(delivery["nextAttemptAt"]);
        for (var i = 1; i < attempts.Count; i++)
        {
            var gap = At(attempts[i]!) - At(attempts[i - 1]!);
            Assert.True(gap >= TimeSpan.FromMilliseconds(250), $"attempt {i + 1} came {gap.TotalMilliseconds:0} ms after the one before; the schedule says 300 ms ±10 %");
        }
        Assert.Equal(4, host.Receiver.Received(path).Count);
        Assert.Equal("active", (await host.Webhook(org, webhook.Id))["status"]!.GetValue<string>());
    }
}
