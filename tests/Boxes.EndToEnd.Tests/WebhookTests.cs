using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Testing;
using Xunit;

namespace Boxes.EndToEnd.Tests;

/// <summary>
/// Webhooks through the public API against the platform scripts/up.sh started: real boxes whose lifecycle events the
/// webhooks service turns into signed deliveries to a receiver each test starts on loopback. Every test has its own
/// organisation, so the boxes of other tests (which run in parallel) never reach its receivers.
/// </summary>
public sealed class WebhookTests : IAsyncLifetime
{
    private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(30);
    /// <summary>First attempts go out at once; the retry after a failure comes 5 s later (with some jitter).</summary>
    private static readonly TimeSpan DeliveredWithin = TimeSpan.FromSeconds(30);
    private static readonly string[] SandboxTypes = ["sandbox.queued", "sandbox.ready", "sandbox.ended", "sandbox.failed", "sandbox.paused", "sandbox.resumed"];
    private readonly Platform _platform = new();
    private readonly List<(string ApiKey, string Id)> _registered = [];

    public Task InitializeAsync() => Task.CompletedTask;

    /// <summary>
    /// Deletes what the test registered: its receiver is gone, and an endpoint left behind would be one more the
    /// service keeps (and retries, should anything still be sent to it).
    /// </summary>
    public async Task DisposeAsync()
    {
        foreach (var (key, id) in _registered)
        {
            using var http = _platform.Client(key);
            await http.DeleteAsync($"/v1/webhooks/{id}");
        }
    }

    private async Task<HttpClient> NewOrganization() => _platform.Client((await _platform.CreateOrganizationAsync()).ApiKey);

    /// <summary>POST /v1/webhooks, checking the 201 answer's shape; returns the id and the secret (shown only here).</summary>
    private async Task<(string Id, string Secret)> Register(HttpClient http, string url, params string[] eventTypes)
    {
        var res = await http.PostAsJsonAsync("/v1/webhooks", new { url, eventTypes });
        var body = await Platform.ReadJson(res);
        Assert.True(res.StatusCode == HttpStatusCode.Created, $"POST /v1/webhooks answered {(int)res.StatusCode}: {body.ToJsonString()}");
        var id = body["id"]!.GetValue<string>();
        _registered.Add((http.DefaultRequestHeaders.Authorization!.Parameter!, id));
        Assert.True(Guid.TryParse(id, out _), $"id {id} is a GUID");
        Assert.Equal(url, body["url"]!.GetValue<string>());
        Assert.Equal(eventTypes.Order(), body["eventTypes"]!.AsArray().Select(t => t!.GetValue<string>()).Order());
        Assert.Equal("active", body["status"]!.GetValue<string>());
        Assert.True(DateTimeOffset.TryParse(body["createdAt"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _));
        var secret = body["signingSecret"]!.GetValue<string>();
        Assert.True(StandardWebhooks.Key(secret).Length >= 24, "the secret carries at least 24 random bytes");
        return (id, secret);
    }

    private static async Task<string> CreateBox(HttpClient http, string kind)
    {
        var res = await http.PostAsJsonAsync($"/v1/{kind}", kind == "browsers" ? new { weight = "light" } : (object)new { runtime = "base" });
        Assert.Equal(HttpStatusCode.Accepted, res.StatusCode);
        var id = (await Platform.ReadJson(res))["id"]!.GetValue<string>();
        var ready = await Platform.WaitForStatus(http, kind, id, s => s is "ready" or "failed" or "ended", ReadyWithin);
        Assert.Equal("ready", Platform.Status(ready));
        return id;
    }

    private static async Task CloseBox(HttpClient http, string kind, string id)
    {
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"/v1/{kind}/{id}")).StatusCode);
        await Platform.WaitForStatus(http, kind, id, s => s is "ended" or "failed", ReadyWithin);
    }

    /// <summary>The delivery's entry in the log, once <paramref name="done"/> holds for it.</summary>
    private static Task<JsonObject> LoggedDelivery(HttpClient http, string webhookId, string deliveryId, Func<JsonObject, bool> done, string what) =>
        Eventually.Until(async () =>
        {
            var res = await http.GetAsync($"/v1/webhooks/{webhookId}/deliveries?limit=100");
            var log = await Platform.ReadJson(res);
            Assert.True(res.IsSuccessStatusCode, $"deliveries answered {(int)res.StatusCode}: {log.ToJsonString()}");
            return log["items"]!.AsArray().OfType<JsonObject>().FirstOrDefault(i => i["deliveryId"]?.GetValue<string>() == deliveryId) ?? [];
        }, done, DeliveredWithin, what);

    private static List<JsonObject> Attempts(JsonObject logged) =>
        [.. logged["attempts"]!.AsArray().OfType<JsonObject>().OrderBy(a => a["attempt"]!.GetValue<int>())];

    private static async Task<string> SendTest(HttpClient http, string webhookId)
    {
        var res = await http.PostAsync($"/v1/webhooks/{webhookId}/test", null);
        var body = await Platform.ReadJson(res);
        Assert.True(res.StatusCode == HttpStatusCode.Accepted, $"test answered {(int)res.StatusCode}: {body.ToJsonString()}");
        return body["deliveryId"]!.GetValue<string>();
    }

    /// <summary>
    /// The Standard Webhooks headers are there, the timestamp is this attempt's (seconds, near now), and the signature
    /// header holds a v1 signature that verifies with <paramref name="secret"/>. The payload is <c>{type, timestamp, data}</c>.
    /// </summary>
    private static void AssertSigned(WebhookReceiver.Delivery delivery, string secret)
    {
        Assert.False(string.IsNullOrEmpty(delivery.WebhookId), $"{delivery}: webhook-id");
        Assert.True(long.TryParse(delivery.Timestamp, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds), $"{delivery}: webhook-timestamp {delivery.Timestamp}");
        Assert.InRange(DateTimeOffset.FromUnixTimeSeconds(seconds), DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddMinutes(5));
        Assert.NotNull(delivery.Signature);
        Assert.True(StandardWebhooks.VerifyingSignatures(secret, delivery).Count >= 1, $"{delivery}: no signature in '{delivery.Signature}' verifies with the secret");
        Assert.NotNull(delivery.Payload);
        Assert.Equal(["data", "timestamp", "type"], delivery.Payload!.Select(p => p.Key).Order());
        Assert.True(DateTimeOffset.TryParse(delivery.Payload["timestamp"]!.GetValue<string>(), CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out _));
        Assert.IsType<JsonObject>(delivery.Payload["data"]);
    }

    private static void AssertBoxData(WebhookReceiver.Delivery delivery, string boxId, string kind, string status)
    {
        var data = delivery.Payload!["data"]!.AsObject();
        Assert.Equal(boxId, data["id"]!.GetValue<string>());
        Assert.Equal(kind, data["kind"]!.GetValue<string>());
        Assert.Equal(status, data["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_browser_sessions_ready_and_ended_arrive_signed_and_its_queued_does_not_when_not_subscribed()
    {
        using var http = await NewOrganization();
        await using var receiver = await WebhookReceiver.StartAsync();
        var (webhook, secret) = await Register(http, receiver.Url, "session.ready", "session.ended");

        // The secret is shown once: reads never carry it.
        var read = await Platform.ReadJson(await http.GetAsync($"/v1/webhooks/{webhook}"));
        Assert.Equal("active", read["status"]!.GetValue<string>());
        Assert.Null(read["signingSecret"]);
        var listed = (await Platform.ReadJson(await http.GetAsync("/v1/webhooks")))["items"]!.AsArray().OfType<JsonObject>().ToList();
        Assert.Equal([webhook], listed.Select(w => w["id"]!.GetValue<string>()));
        Assert.Null(listed[0]["signingSecret"]);

        var session = await CreateBox(http, "browsers");
        var ready = await receiver.WaitFor(d => d.Type == "session.ready" && d.BoxId == session, DeliveredWithin, $"session.ready of {session}");
        AssertSigned(ready, secret);
        AssertBoxData(ready, session, "browser", "ready");

        await CloseBox(http, "browsers", session);
        var ended = await receiver.WaitFor(d => d.Type == "session.ended" && d.BoxId == session, DeliveredWithin, $"session.ended of {session}");
        AssertSigned(ended, secret);
        AssertBoxData(ended, session, "browser", "ended");
        Assert.Equal("closed_by_owner", ended.Payload!["data"]!["endReason"]!.GetValue<string>());
        Assert.NotEqual(ready.WebhookId, ended.WebhookId);

        // session.queued came first in the box's life; by the time ended arrived it would have too.
        Assert.Equal(["session.ready", "session.ended"], receiver.Received.Select(d => d.Type!));
    }

    [Fact]
    public async Task A_sandboxs_ready_and_ended_arrive_signed_with_its_kind_status_end_reason_and_usage()
    {
        using var http = await NewOrganization();
        await using var receiver = await WebhookReceiver.StartAsync();
        var (_, secret) = await Register(http, receiver.Url, "sandbox.ready", "sandbox.ended");

        var sandbox = await CreateBox(http, "sandboxes");
        var ready = await receiver.WaitFor(d => d.Type == "sandbox.ready" && d.BoxId == sandbox, DeliveredWithin, $"sandbox.ready of {sandbox}");
        AssertSigned(ready, secret);
        AssertBoxData(ready, sandbox, "sandbox", "ready");

        await CloseBox(http, "sandboxes", sandbox);
        var ended = await receiver.WaitFor(d => d.Type == "sandbox.ended" && d.BoxId == sandbox, DeliveredWithin, $"sandbox.ended of {sandbox}");
        AssertSigned(ended, secret);
        AssertBoxData(ended, sandbox, "sandbox", "ended");
        var data = ended.Payload!["data"]!.AsObject();
        Assert.Equal("closed_by_owner", data["endReason"]!.GetValue<string>());
        Assert.IsType<JsonObject>(data["usage"]); // usage so far, as the issue asks
    }

    [Fact]
    public async Task Only_the_subscribed_types_arrive_and_another_organisations_boxes_never_do()
    {
        using var mine = await NewOrganization();
        using var theirs = await NewOrganization();
        await using var onlyReady = await WebhookReceiver.StartAsync();
        await using var everything = await WebhookReceiver.StartAsync();
        await using var foreign = await WebhookReceiver.StartAsync();
        await Register(mine, onlyReady.Url, "sandbox.ready");
        await Register(mine, everything.Url, SandboxTypes);
        await Register(theirs, foreign.Url, SandboxTypes);

        var myBox = await CreateBox(mine, "sandboxes");
        var theirBox = await CreateBox(theirs, "sandboxes");
        await CloseBox(mine, "sandboxes", myBox);
        await CloseBox(theirs, "sandboxes", theirBox);

        // The endpoints subscribed to everything are the barrier: once each has its box's ended, the rest has been fanned out.
        await everything.WaitFor(d => d.Type == "sandbox.ended" && d.BoxId == myBox, DeliveredWithin, $"sandbox.ended of {myBox}");
        await foreign.WaitFor(d => d.Type == "sandbox.ended" && d.BoxId == theirBox, DeliveredWithin, $"sandbox.ended of {theirBox}");
        await onlyReady.WaitFor(d => d.Type == "sandbox.ready" && d.BoxId == myBox, DeliveredWithin, $"sandbox.ready of {myBox}");

        Assert.Equal(["sandbox.queued", "sandbox.ready", "sandbox.ended"], everything.Received.Select(d => d.Type!).OrderBy(t => Array.IndexOf(SandboxTypes, t)));
        Assert.All(everything.Received, d => Assert.Equal(myBox, d.BoxId));
        Assert.All(foreign.Received, d => Assert.Equal(theirBox, d.BoxId));
        Assert.Equal([("sandbox.ready", myBox)], onlyReady.Received.Select(d => (d.Type!, d.BoxId!)));
    }

    [Fact]
    public async Task A_receiver_answering_500_then_200_gets_a_retry_with_the_same_webhook_id_and_the_log_shows_both_attempts()
    {
        using var http = await NewOrganization();
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = n => n == 1 ? 500 : 200;
        var (webhook, secret) = await Register(http, receiver.Url, "sandbox.ready");

        var deliveryId = await SendTest(http, webhook);
        var attempts = await receiver.WaitForCount(d => d.Type == "webhook.test", 2, DeliveredWithin, "the test event and its retry");
        Assert.Equal([500, 200], attempts.Select(a => a.AnsweredWith));
        Assert.Equal(attempts[0].WebhookId, attempts[1].WebhookId); // one event to one endpoint: one id on every attempt
        Assert.Equal(attempts[0].Body, attempts[1].Body);
        Assert.True(long.Parse(attempts[1].Timestamp!, CultureInfo.InvariantCulture) >= long.Parse(attempts[0].Timestamp!, CultureInfo.InvariantCulture));
        foreach (var attempt in attempts) AssertSigned(attempt, secret);

        var logged = await LoggedDelivery(http, webhook, deliveryId, d => d["status"]?.GetValue<string>() == "succeeded" && d["attempts"]!.AsArray().Count == 2,
            $"delivery {deliveryId} to be logged as succeeded after two attempts");
        Assert.Equal("webhook.test", logged["type"]!.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(logged["eventId"]!.GetValue<string>()));
        Assert.Null(logged["nextAttemptAt"]);
        var log = Attempts(logged);
        Assert.Equal([(1, 500), (2, 200)], log.Select(a => (a["attempt"]!.GetValue<int>(), a["statusCode"]!.GetValue<int>())));
        Assert.All(log, a => Assert.True(a["durationMs"]!.GetValue<double>() >= 0));
        Assert.All(log, a => Assert.NotNull(a["at"]));
    }

    [Fact]
    public async Task The_test_route_delivers_a_signed_webhook_test_event_whatever_the_subscription()
    {
        using var http = await NewOrganization();
        await using var receiver = await WebhookReceiver.StartAsync();
        var (webhook, secret) = await Register(http, receiver.Url, "session.failed");

        var deliveryId = await SendTest(http, webhook);
        Assert.True(Guid.TryParse(deliveryId, out _));
        var delivery = await receiver.WaitFor(d => d.Type == "webhook.test", DeliveredWithin, "webhook.test");
        AssertSigned(delivery, secret);

        var logged = await LoggedDelivery(http, webhook, deliveryId, d => d["status"]?.GetValue<string>() == "succeeded", $"delivery {deliveryId} to succeed");
        Assert.Equal("webhook.test", logged["type"]!.GetValue<string>());
        Assert.Equal([(1, 200)], Attempts(logged).Select(a => (a["attempt"]!.GetValue<int>(), a["statusCode"]!.GetValue<int>())));
    }

    // 2130706433 is 127.0.0.1 spelled as one decimal number (System.Uri turns it into the dotted form before anyone
    // sees it). The development allow-list exists for receivers at http://127.0.0.1:port; an obfuscated spelling of a
    // refused address is how SSRF filters are evaded, so it must be refused even where loopback is let through.
    [Theory]
    [InlineData("http://169.254.169.254/")]
    [InlineData("http://10.0.0.1/")]
    [InlineData("http://[::ffff:10.0.0.1]/")]
    [InlineData("http://2130706433/")]
    [InlineData("http://2852039166/")]          // 169.254.169.254, decimal
    [InlineData("http://0251.0376.0251.0376/")] // the same, octal
    [InlineData("http://0xa9fea9fe/")]          // the same, hex
    [InlineData("http://[fd00:ec2::254]/")]
    public async Task A_url_into_a_private_or_metadata_address_is_refused_with_VALIDATION_FAILED_naming_url(string url)
    {
        using var http = await NewOrganization();
        var res = await http.PostAsJsonAsync("/v1/webhooks", new { url, eventTypes = new[] { "session.ready" } });
        var body = await Platform.ReadJson(res);
        if (res.StatusCode == HttpStatusCode.Created) _registered.Add((http.DefaultRequestHeaders.Authorization!.Parameter!, body["id"]!.GetValue<string>()));
        Assert.True(res.StatusCode == HttpStatusCode.BadRequest, $"{url} answered {(int)res.StatusCode}: {body.ToJsonString()}");
        Assert.Equal("VALIDATION_FAILED", body["error"]!["code"]!.GetValue<string>());
        Assert.Contains("url", body["error"]!["message"]!.GetValue<string>());
        Assert.Empty((await Platform.ReadJson(await http.GetAsync("/v1/webhooks")))["items"]!.AsArray());
    }

    [Fact]
    public async Task After_rotate_secret_deliveries_carry_two_signatures_each_verifying_with_its_own_secret()
    {
        using var http = await NewOrganization();
        await using var receiver = await WebhookReceiver.StartAsync();
        var (webhook, oldSecret) = await Register(http, receiver.Url, "sandbox.ready");

        var res = await http.PostAsync($"/v1/webhooks/{webhook}/rotate-secret", null);
        var rotated = await Platform.ReadJson(res);
        Assert.True(res.IsSuccessStatusCode, $"rotate-secret answered {(int)res.StatusCode}: {rotated.ToJsonString()}");
        var newSecret = rotated["signingSecret"]!.GetValue<string>();
        Assert.NotEqual(oldSecret, newSecret);
        Assert.True(StandardWebhooks.Key(newSecret).Length >= 24);
        var expires = DateTimeOffset.Parse(rotated["previousSecretExpiresAt"]!.GetValue<string>(), CultureInfo.InvariantCulture);
        Assert.InRange(expires, DateTimeOffset.UtcNow.AddHours(24).AddMinutes(-5), DateTimeOffset.UtcNow.AddHours(24).AddMinutes(5));

        await SendTest(http, webhook);
        var delivery = await receiver.WaitFor(d => d.Type == "webhook.test", DeliveredWithin, "webhook.test after the rotation");
        var signatures = StandardWebhooks.Signatures(delivery.Signature!);
        Assert.Equal(2, signatures.Count);
        var byNew = StandardWebhooks.VerifyingSignatures(newSecret, delivery);
        var byOld = StandardWebhooks.VerifyingSignatures(oldSecret, delivery);
        Assert.Single(byNew);
        Assert.Single(byOld);
        Assert.NotEqual(byNew[0], byOld[0]);
    }

    [Fact]
    public async Task A_410_Gone_disables_the_endpoint_and_after_enable_a_replay_delivers_again_with_the_same_webhook_id()
    {
        using var http = await NewOrganization();
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = n => n == 1 ? 410 : 200;
        var (webhook, secret) = await Register(http, receiver.Url, "sandbox.ready");

        var deliveryId = await SendTest(http, webhook);
        var gone = await receiver.WaitFor(d => d.Type == "webhook.test", DeliveredWithin, "the first attempt");
        await Eventually.Until(async () => await Platform.ReadJson(await http.GetAsync($"/v1/webhooks/{webhook}")),
            w => w["status"]?.GetValue<string>() == "disabled", DeliveredWithin, $"webhook {webhook} to be disabled by the 410");
        var failed = await LoggedDelivery(http, webhook, deliveryId, d => d["status"]?.GetValue<string>() == "failed", $"delivery {deliveryId} to be failed");
        Assert.Equal([(1, 410)], Attempts(failed).Select(a => (a["attempt"]!.GetValue<int>(), a["statusCode"]!.GetValue<int>())));

        var enabled = await http.PostAsync($"/v1/webhooks/{webhook}/enable", null);
        Assert.Equal(HttpStatusCode.OK, enabled.StatusCode);
        Assert.Equal("active", (await Platform.ReadJson(enabled))["status"]!.GetValue<string>());

        var replay = await http.PostAsync($"/v1/webhooks/{webhook}/deliveries/{deliveryId}/replay", null);
        var replayed = await Platform.ReadJson(replay);
        Assert.True(replay.StatusCode == HttpStatusCode.Accepted, $"replay answered {(int)replay.StatusCode}: {replayed.ToJsonString()}");
        var again = await receiver.WaitFor(d => d.Number == 2, DeliveredWithin, "the replayed delivery");
        Assert.Equal(gone.WebhookId, again.WebhookId);
        AssertSigned(again, secret);
        await LoggedDelivery(http, webhook, replayed["deliveryId"]!.GetValue<string>(), d => d["status"]?.GetValue<string>() == "succeeded",
            "the replayed delivery to succeed");
    }

    [Fact]
    public async Task Another_organisation_can_neither_see_nor_touch_a_webhook_and_a_deleted_one_is_gone()
    {
        using var owner = await NewOrganization();
        using var other = await NewOrganization();
        await using var receiver = await WebhookReceiver.StartAsync();
        var (webhook, _) = await Register(owner, receiver.Url, "session.ready");

        foreach (var (method, route) in new[] { (HttpMethod.Get, ""), (HttpMethod.Delete, ""), (HttpMethod.Post, "/test"), (HttpMethod.Post, "/rotate-secret"),
                     (HttpMethod.Post, "/enable"), (HttpMethod.Get, "/deliveries") })
        {
            var res = await other.SendAsync(new HttpRequestMessage(method, $"/v1/webhooks/{webhook}{route}"));
            Assert.True(res.StatusCode == HttpStatusCode.NotFound, $"{method} {route} by another organisation answered {(int)res.StatusCode}");
        }
        Assert.Empty((await Platform.ReadJson(await other.GetAsync("/v1/webhooks")))["items"]!.AsArray());
        Assert.Empty(receiver.Received);

        var deleted = await owner.DeleteAsync($"/v1/webhooks/{webhook}");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        var body = await Platform.ReadJson(deleted);
        Assert.Equal(webhook, body["id"]!.GetValue<string>());
        Assert.True(body["deleted"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NotFound, (await owner.GetAsync($"/v1/webhooks/{webhook}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.PostAsync($"/v1/webhooks/{webhook}/test", null)).StatusCode);
        Assert.Empty((await Platform.ReadJson(await owner.GetAsync("/v1/webhooks")))["items"]!.AsArray());
    }
}

/// <summary>The test's own tools, checked without the platform: the verifier against the specification's example, the receiver over HTTP.</summary>
public sealed class WebhookTestToolTests
{
    [Fact]
    public void The_verifier_accepts_the_Standard_Webhooks_specifications_example_and_nothing_altered()
    {
        // The example of the specification's reference libraries: secret, id, timestamp, body and the signature they give.
        var delivery = new WebhookReceiver.Delivery(1, "msg_p5jXN8AQM9LWM0D4loKWxJek", "1614265330",
            "v1,bm9ub25zZW5zZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v2,ignored", "{\"test\": 2432232314}", null, 0, 200);
        const string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        Assert.Equal(["g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="], StandardWebhooks.VerifyingSignatures(secret, delivery));
        Assert.Empty(StandardWebhooks.VerifyingSignatures(secret, delivery with { Body = "{\"test\": 2432232315}" }));
        Assert.Empty(StandardWebhooks.VerifyingSignatures(secret, delivery with { Timestamp = "1614265331" }));
        Assert.Empty(StandardWebhooks.VerifyingSignatures(secret, delivery with { WebhookId = "msg_other" }));
        Assert.Empty(StandardWebhooks.VerifyingSignatures("whsec_" + Convert.ToBase64String(new byte[24]), delivery));
    }

    [Fact]
    public async Task The_receiver_records_headers_and_body_and_answers_as_told()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        receiver.Respond = n => n == 1 ? 500 : 204;
        using var http = new HttpClient();
        for (var i = 0; i < 2; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, receiver.Url)
            {
                Content = new StringContent("{\"type\":\"webhook.test\",\"timestamp\":\"2025-01-01T00:00:00.000Z\",\"data\":{\"id\":\"b1\"}}", Encoding.UTF8, "application/json"),
            };
            request.Headers.Add("webhook-id", "msg_1");
            request.Headers.Add("webhook-timestamp", "1700000000");
            request.Headers.Add("webhook-signature", "v1,abc");
            Assert.Equal(i == 0 ? HttpStatusCode.InternalServerError : HttpStatusCode.NoContent, (await http.SendAsync(request)).StatusCode);
        }
        var received = await receiver.WaitForCount(_ => true, 2, TimeSpan.FromSeconds(5), "both requests");
        Assert.Equal([(1, 500), (2, 204)], received.Select(d => (d.Number, d.AnsweredWith)));
        Assert.All(received, d => Assert.Equal(("msg_1", "1700000000", "v1,abc", "webhook.test", "b1"), (d.WebhookId, d.Timestamp, d.Signature, d.Type, d.BoxId)));
    }
}
