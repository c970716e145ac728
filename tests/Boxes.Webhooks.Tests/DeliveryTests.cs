using System.Net;
using System.Text.Json.Nodes;
using Boxes.Contracts;
using Boxes.Testing;
using Boxes.Webhooks.Tests.Infrastructure;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>From box events on the bus to signed deliveries: payloads, signatures, subscriptions, organisations, rotation, test and replay.</summary>
public sealed class DeliveryTests(WebhooksHost host) : IClassFixture<WebhooksHost>
{
    private static readonly DateTimeOffset T0 = new(2025, 3, 1, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_ready_browser_reaches_its_endpoint_as_session_ready_signed_per_Standard_Webhooks()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        var webhook = await host.CreateWebhook(org, host.Receiver.Url(path), "session.ready");

        var (boxId, _) = await host.RequestBox(org, BoxKinds.Browser, T0);
        var ready = await host.MakeReady(boxId, T0.AddSeconds(2));

        var received = Assert.Single(await host.Receiver.WaitFor(path, 1));
        Assert.True(received.VerifiesWith(webhook.Secret, DateTimeOffset.UtcNow, out var why), why);
        Assert.Equal("application/json", received.Headers["content-type"]);
        Assert.Equal("Boxes-Webhooks/1", received.Headers["user-agent"]);
        Assert.True(Guid.TryParse(received.Id, out var deliveryId));
        Assert.Single(StandardWebhooksVerifier.Signatures(received.Signature!));
        Assert.InRange(long.Parse(received.Timestamp!, System.Globalization.CultureInfo.InvariantCulture),
            DateTimeOffset.UtcNow.AddMinutes(-1).ToUnixTimeSeconds(), DateTimeOffset.UtcNow.ToUnixTimeSeconds());

        var body = received.Json;
        Assert.Equal("session.ready", body["type"]!.GetValue<string>());
        Assert.Equal("2025-03-01T10:00:02.000Z", body["timestamp"]!.GetValue<string>());
        Assert.Equal(boxId.ToString(), body["data"]!["id"]!.GetValue<string>());
        Assert.Equal("browser", body["data"]!["kind"]!.GetValue<string>());
        Assert.Equal("ready", body["data"]!["status"]!.GetValue<string>());
        Assert.Null(body["data"]!["endReason"]);
        Assert.Equal(0, body["data"]!["usage"]!["vcpuSeconds"]!.GetValue<double>());

        var delivery = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "succeeded", "the delivery to succeed");
        Assert.Equal(ready.EventId.ToString(), delivery["eventId"]!.GetValue<string>());
        Assert.Equal("session.ready", delivery["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_ended_session_carries_its_end_reason_and_the_usage_metered_up_to_the_end()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        await host.CreateWebhook(org, host.Receiver.Url(path), "session.ended");

        var (boxId, _) = await host.RequestBox(org, BoxKinds.Browser, T0, new BoxSpec { Weight = "medium" });
        await host.MakeReady(boxId, T0.AddSeconds(1));
        await host.Append(boxId, new BoxEnded(boxId, EndReasons.ClosedByOwner, T0.AddSeconds(11.5)));

        var data = Assert.Single(await host.Receiver.WaitFor(path, 1)).Json["data"]!;
        Assert.Equal("ended", data["status"]!.GetValue<string>());
        Assert.Equal("closed_by_owner", data["endReason"]!.GetValue<string>());
        // Medium is metered at 2 vCPU: 10.5 s ready → 21 vCPU-seconds.
        Assert.Equal(21.0, data["usage"]!["vcpuSeconds"]!.GetValue<double>());
    }

    [Fact]
    public async Task A_sandbox_life_arrives_as_sandbox_events_with_pauses_excluded_from_usage_and_artifacts_described()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        await host.CreateWebhook(org, host.Receiver.Url(path),
            "sandbox.queued", "sandbox.ready", "sandbox.paused", "sandbox.resumed", "sandbox.failed", "artifact.created");

        var (boxId, _) = await host.RequestBox(org, BoxKinds.Sandbox, T0);
        await host.MakeReady(boxId, T0.AddSeconds(1));
        await host.Append(boxId, new BoxPaused(boxId, T0.AddSeconds(4)));
        await host.Append(boxId, new BoxResumed(boxId, T0.AddSeconds(10)));
        var artifactId = Guid.NewGuid();
        await host.Append(boxId, new ArtifactCreated(boxId, artifactId, org, ArtifactKinds.Checkpoint, "application/gzip", 1234, "abc", T0.AddSeconds(12)));
        await host.Append(boxId, new BoxFailed(boxId, "WORKER_LOST", EndReasons.WorkerLost, T0.AddSeconds(13)));

        var received = await host.Receiver.WaitFor(path, 6);
        var byType = received.Select(r => r.Json).ToDictionary(j => j["type"]!.GetValue<string>());
        Assert.Equal(["artifact.created", "sandbox.failed", "sandbox.paused", "sandbox.queued", "sandbox.ready", "sandbox.resumed"], byType.Keys.Order());
        Assert.Equal("queued", byType["sandbox.queued"]["data"]!["status"]!.GetValue<string>());
        Assert.Equal("sandbox", byType["sandbox.queued"]["data"]!["kind"]!.GetValue<string>());
        Assert.Equal("paused", byType["sandbox.paused"]["data"]!["status"]!.GetValue<string>());
        // A standard sandbox is 2 vCPU: 3 s to the pause, then 2 s from the resume to the artifact, 3 s to the failure.
        Assert.Equal(6.0, byType["sandbox.paused"]["data"]!["usage"]!["vcpuSeconds"]!.GetValue<double>());
        Assert.Equal(6.0, byType["sandbox.resumed"]["data"]!["usage"]!["vcpuSeconds"]!.GetValue<double>());
        var artifact = byType["artifact.created"]["data"]!;
        Assert.Equal(10.0, artifact["usage"]!["vcpuSeconds"]!.GetValue<double>());
        Assert.Equal(artifactId.ToString(), artifact["artifact"]!["key"]!.GetValue<string>());
        Assert.Equal("checkpoint", artifact["artifact"]!["kind"]!.GetValue<string>());
        Assert.Equal("application/gzip", artifact["artifact"]!["contentType"]!.GetValue<string>());
        Assert.Equal(1234, artifact["artifact"]!["sizeBytes"]!.GetValue<long>());
        var failed = byType["sandbox.failed"]["data"]!;
        Assert.Equal("failed", failed["status"]!.GetValue<string>());
        Assert.Equal("worker_lost", failed["endReason"]!.GetValue<string>());
        Assert.Equal(12.0, failed["usage"]!["vcpuSeconds"]!.GetValue<double>());
        Assert.Null(byType["sandbox.ready"]["data"]!["artifact"]);
    }

    [Fact]
    public async Task An_endpoint_receives_only_the_types_it_subscribed_to_and_only_from_its_own_organisation()
    {
        var org = Guid.NewGuid();
        var otherOrg = Guid.NewGuid();
        var (endedOnly, everything, otherPath) = (WebhooksHost.NewPath(), WebhooksHost.NewPath(), WebhooksHost.NewPath());
        var endedHook = await host.CreateWebhook(org, host.Receiver.Url(endedOnly), "session.ended");
        var allHook = await host.CreateWebhook(org, host.Receiver.Url(everything), "session.queued", "session.ready", "session.ended", "sandbox.ready");
        var otherHook = await host.CreateWebhook(otherOrg, host.Receiver.Url(otherPath), "session.queued", "session.ready", "session.ended");

        var (boxId, requested) = await host.RequestBox(org, BoxKinds.Browser, T0);
        var ready = await host.MakeReady(boxId, T0.AddSeconds(1));
        var ended = await host.Append(boxId, new BoxEnded(boxId, EndReasons.ClosedByOwner, T0.AddSeconds(2)));
        foreach (var e in new[] { requested, ready, ended }) await host.WaitUntilConsumed(e);

        Assert.Equal(["session.ended"], (await host.DeliveryRows(endedHook.Id)).Select(r => r.Type));
        Assert.Equal(["session.ended", "session.queued", "session.ready"], (await host.DeliveryRows(allHook.Id)).Select(r => r.Type).Order());
        Assert.Empty(await host.DeliveryRows(otherHook.Id));
        await host.Receiver.WaitFor(everything, 3);
        Assert.Empty(host.Receiver.Received(otherPath));
        Assert.Equal("session.ended", Assert.Single(await host.Receiver.WaitFor(endedOnly, 1)).Json["type"]!.GetValue<string>());
    }

    [Fact]
    public async Task After_a_rotation_both_secrets_sign_for_24_hours_and_then_only_the_new_one()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        var webhook = await host.CreateWebhook(org, host.Receiver.Url(path), "session.ready");

        var rotation = await host.PostJson($"/internal/organizations/{org}/webhooks/{webhook.Id}/rotate-secret");
        var newSecret = rotation["signingSecret"]!.GetValue<string>();
        Assert.StartsWith("whsec_", newSecret);
        Assert.NotEqual(webhook.Secret, newSecret);
        var expires = DateTimeOffset.Parse(rotation["previousSecretExpiresAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expires - host.Clock.GetUtcNow(), TimeSpan.FromHours(23.9), TimeSpan.FromHours(24));

        await host.SendTest(org, webhook.Id);
        var during = Assert.Single(await host.Receiver.WaitFor(path, 1));
        Assert.Equal(2, StandardWebhooksVerifier.Signatures(during.Signature!).Count);
        Assert.Contains(' ', during.Signature!);
        Assert.True(during.VerifiesWith(newSecret, DateTimeOffset.UtcNow, out var why), why);
        Assert.True(during.VerifiesWith(webhook.Secret, DateTimeOffset.UtcNow, out why), why);

        // The clock passes the overlap: the old secret no longer signs.
        host.Clock.Advance(TimeSpan.FromHours(24) + TimeSpan.FromMinutes(1));
        await host.SendTest(org, webhook.Id);
        var after = (await host.Receiver.WaitFor(path, 2))[1];
        Assert.Single(StandardWebhooksVerifier.Signatures(after.Signature!));
        var now = DateTimeOffset.UtcNow + host.Clock.Offset;
        Assert.True(after.VerifiesWith(newSecret, now, out why), why);
        Assert.False(after.VerifiesWith(webhook.Secret, now, out _));
    }

    [Fact]
    public async Task The_test_route_sends_webhook_test_through_the_delivery_path_whatever_the_subscription()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        var webhook = await host.CreateWebhook(org, host.Receiver.Url(path), "sandbox.ended");

        var deliveryId = await host.SendTest(org, webhook.Id);
        var received = Assert.Single(await host.Receiver.WaitFor(path, 1));
        Assert.Equal(deliveryId.ToString(), received.Id);
        Assert.True(received.VerifiesWith(webhook.Secret, DateTimeOffset.UtcNow + host.Clock.Offset, out var why), why);
        Assert.Equal("webhook.test", received.Json["type"]!.GetValue<string>());
        Assert.Equal(webhook.Id.ToString(), received.Json["data"]!["webhookId"]!.GetValue<string>());

        var delivery = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "succeeded", "the test delivery to succeed");
        Assert.Equal("webhook.test", delivery["type"]!.GetValue<string>());
        var attempt = Assert.Single(WebhooksHost.Attempts(delivery))!;
        Assert.Equal(1, attempt["attempt"]!.GetValue<int>());
        Assert.Equal(200, attempt["statusCode"]!.GetValue<int>());
        Assert.Null(attempt["error"]);
        Assert.Null(attempt["nextAttemptAt"]);
        Assert.True(attempt["durationMs"]!.GetValue<int>() >= 0);
        Assert.Null(delivery["nextAttemptAt"]);
    }

    [Fact]
    public async Task A_failed_delivery_replayed_by_id_is_sent_again_with_the_same_webhook_id_and_a_fresh_schedule()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        host.Receiver.Script(path, new Reply(500), new Reply(500), new Reply(500), new Reply(500), Reply.Ok);
        var webhook = await host.CreateWebhook(org, host.Receiver.Url(path), "session.ready");

        var deliveryId = await host.SendTest(org, webhook.Id);
        var failed = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "failed", "the delivery to give up after 4 attempts");
        Assert.Equal([1, 2, 3, 4], WebhooksHost.Attempts(failed).Select(a => a!["attempt"]!.GetValue<int>()));
        Assert.All(WebhooksHost.Attempts(failed), a => Assert.Equal(500, a!["statusCode"]!.GetValue<int>()));

        var replay = await host.PostJson($"/internal/organizations/{org}/webhooks/{webhook.Id}/deliveries/{deliveryId}/replay", HttpStatusCode.Accepted);
        Assert.Equal(deliveryId.ToString(), replay["deliveryId"]!.GetValue<string>());

        var requests = await host.Receiver.WaitFor(path, 5);
        Assert.All(requests, r => Assert.Equal(deliveryId.ToString(), r.Id));
        var replayed = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "succeeded", "the replay to succeed");
        var attempts = WebhooksHost.Attempts(replayed);
        Assert.Equal([1, 2, 3, 4, 5], attempts.Select(a => a!["attempt"]!.GetValue<int>()));
        Assert.Equal(200, attempts[4]!["statusCode"]!.GetValue<int>());
    }

    [Fact]
    public async Task A_pending_delivery_cannot_be_replayed_and_an_unknown_one_is_not_found()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        host.Receiver.Script(path, new Reply(200) { Hold = true });
        var webhook = await host.CreateWebhook(org, host.Receiver.Url(path), "session.ready");
        var deliveryId = await host.SendTest(org, webhook.Id);
        await host.Receiver.WaitFor(path, 1);

        var pending = await host.Client().PostAsync($"/internal/organizations/{org}/webhooks/{webhook.Id}/deliveries/{deliveryId}/replay", null);
        Assert.Equal(HttpStatusCode.Conflict, pending.StatusCode);
        Assert.Equal("CONFLICT", JsonNode.Parse(await pending.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
        var inFlight = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "delivering", "the delivery to show as delivering");
        Assert.Empty(WebhooksHost.Attempts(inFlight));

        host.Receiver.Release(path);
        await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "succeeded", "the held delivery to succeed");
        var unknown = await host.Client().PostAsync($"/internal/organizations/{org}/webhooks/{webhook.Id}/deliveries/{Guid.NewGuid()}/replay", null);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task The_deliveries_log_pages_newest_first_with_a_cursor()
    {
        var org = Guid.NewGuid();
        var path = WebhooksHost.NewPath();
        var webhook = await host.CreateWebhook(org, host.Receiver.Url(path), "session.ready");
        var sent = new List<Guid>();
        for (var i = 0; i < 5; i++) sent.Add(await host.SendTest(org, webhook.Id));

        var seen = new List<string>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await host.GetJson($"/internal/organizations/{org}/webhooks/{webhook.Id}/deliveries?limit=2" + (cursor is null ? "" : $"&cursor={cursor}"));
            var items = page["items"]!.AsArray();
            Assert.InRange(items.Count, 1, 2);
            seen.AddRange(items.Select(d => d!["deliveryId"]!.GetValue<string>()));
            cursor = page["nextCursor"]?.GetValue<string>();
            pages++;
        } while (cursor is not null);

        Assert.Equal(3, pages);
        Assert.Equal(sent.AsEnumerable().Reverse().Select(g => g.ToString()), seen);
        await Eventually.Until(async () => (await host.Deliveries(org, webhook.Id)).All(d => WebhooksHost.Status(d!) == "succeeded"),
            TimeSpan.FromSeconds(30), "every test delivery to succeed");
    }
}
