using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Webhooks.Tests.Infrastructure;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>The internal routes of docs/INTERNAL.md: shapes, validation, organisation scoping, the internal key.</summary>
public sealed class WebhookRouteTests(WebhooksHost host) : IClassFixture<WebhooksHost>
{
    private static async Task<(HttpStatusCode Status, JsonNode Body)> Read(HttpResponseMessage res) =>
        (res.StatusCode, JsonNode.Parse(await res.Content.ReadAsStringAsync())!);

    private static void AssertError(HttpStatusCode expected, string code, (HttpStatusCode Status, JsonNode Body) answer, string? messageStart = null)
    {
        Assert.True(answer.Status == expected, $"expected {(int)expected}, got {(int)answer.Status}: {answer.Body.ToJsonString()}");
        Assert.Equal(code, answer.Body["error"]!["code"]!.GetValue<string>());
        if (messageStart is not null) Assert.StartsWith(messageStart, answer.Body["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_answers_201_with_the_secret_once_and_reads_never_show_it()
    {
        var org = Guid.NewGuid();
        var url = host.Receiver.Url("create-shape");
        var created = await host.CreateWebhook(org, url, "session.ready", "sandbox.ended", "session.ready");

        var body = created.Body;
        Assert.Equal(url, body["url"]!.GetValue<string>());
        Assert.Equal(["session.ready", "sandbox.ended"], body["eventTypes"]!.AsArray().Select(t => t!.GetValue<string>()));
        Assert.Equal("active", body["status"]!.GetValue<string>());
        Assert.NotNull(body["createdAt"]);
        Assert.StartsWith("whsec_", created.Secret);
        Assert.True(Convert.FromBase64String(created.Secret["whsec_".Length..]).Length >= 24);

        var one = await host.Webhook(org, created.Id);
        var list = (await host.GetJson($"/internal/organizations/{org}/webhooks"))["items"]!.AsArray();
        Assert.Equal(created.Id.ToString(), Assert.Single(list)!["id"]!.GetValue<string>());
        foreach (var read in new[] { one, list[0]! })
        {
            Assert.Null(read["signingSecret"]);
            Assert.DoesNotContain(created.Secret, read.ToJsonString());
            Assert.Equal("active", read["status"]!.GetValue<string>());
            Assert.Null(read["disabledAt"]);
            Assert.Null(read["disabledReason"]);
        }
    }

    [Theory]
    [InlineData("""{"eventTypes":["session.ready"]}""", "url:")]
    [InlineData("""{"url":42,"eventTypes":["session.ready"]}""", "url:")]
    [InlineData("""{"url":"http://127.0.0.1:9/x"}""", "eventTypes:")]
    [InlineData("""{"url":"http://127.0.0.1:9/x","eventTypes":"session.ready"}""", "eventTypes:")]
    [InlineData("""{"url":"http://127.0.0.1:9/x","eventTypes":[]}""", "eventTypes:")]
    [InlineData("""{"url":"http://127.0.0.1:9/x","eventTypes":["session.exploded"]}""", "eventTypes:")]
    [InlineData("""{"url":"http://127.0.0.1:9/x","eventTypes":[7]}""", "eventTypes:")]
    [InlineData("""{"url":"http://127.0.0.1:9/x","eventTypes":["session.ready"]""", "body:")]
    [InlineData("""["session.ready"]""", "body:")]
    public async Task Bad_input_is_VALIDATION_FAILED_naming_the_field_and_creates_nothing(string json, string field)
    {
        var org = Guid.NewGuid();
        var res = await host.Client().PostAsync($"/internal/organizations/{org}/webhooks", new StringContent(json, Encoding.UTF8, "application/json"));
        AssertError(HttpStatusCode.BadRequest, "VALIDATION_FAILED", await Read(res), field);
        Assert.Empty((await host.GetJson($"/internal/organizations/{org}/webhooks"))["items"]!.AsArray());
    }

    [Theory]
    [InlineData("2130706433")]
    [InlineData("0x7f000001")]
    [InlineData("0177.0.0.1")]
    [InlineData("127.1")]
    [InlineData("0x7f.1")]
    [InlineData("[::ffff:127.0.0.1]")]
    [InlineData("[::ffff:7f00:1]")]
    public async Task Obfuscated_spellings_of_the_allow_listed_loopback_address_are_refused_naming_url(string spelling)
    {
        // This host's allow-list is 127.0.0.1/32: the dotted form is let through, these spellings of it are not.
        var org = Guid.NewGuid();
        await host.CreateWebhook(org, $"http://127.0.0.1:{host.Receiver.Port}/standard-form", "session.ready");
        var res = await host.Client().PostAsJsonAsync($"/internal/organizations/{org}/webhooks",
            new { url = $"http://{spelling}:{host.Receiver.Port}/obfuscated", eventTypes = new[] { "session.ready" } });
        AssertError(HttpStatusCode.BadRequest, "VALIDATION_FAILED", await Read(res), "url:");
        Assert.Single((await host.GetJson($"/internal/organizations/{org}/webhooks"))["items"]!.AsArray());
    }

    [Fact]
    public async Task Every_known_event_type_can_be_subscribed_to()
    {
        string[] all =
        [
            "session.queued", "session.ready", "session.ended", "session.failed", "sandbox.queued", "sandbox.ready", "sandbox.ended",
            "sandbox.failed", "sandbox.paused", "sandbox.resumed", "artifact.created", "handoff.requested", "handoff.completed",
        ];
        var created = await host.CreateWebhook(Guid.NewGuid(), host.Receiver.Url("all-types"), all);
        Assert.Equal(all, created.Body["eventTypes"]!.AsArray().Select(t => t!.GetValue<string>()));
    }

    [Fact]
    public async Task Another_organisations_webhook_is_not_found_on_every_route()
    {
        var owner = Guid.NewGuid();
        var stranger = Guid.NewGuid();
        var webhook = await host.CreateWebhook(owner, host.Receiver.Url("scoped"), "session.ready");
        var deliveryId = await host.SendTest(owner, webhook.Id);
        var client = host.Client();
        var basePath = $"/internal/organizations/{stranger}/webhooks/{webhook.Id}";

        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", await Read(await client.GetAsync(basePath)));
        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", await Read(await client.GetAsync(basePath + "/deliveries")));
        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", await Read(await client.PostAsync(basePath + "/test", null)));
        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", await Read(await client.PostAsync(basePath + "/rotate-secret", null)));
        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", await Read(await client.PostAsync(basePath + "/enable", null)));
        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", await Read(await client.PostAsync(basePath + $"/deliveries/{deliveryId}/replay", null)));
        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", await Read(await client.DeleteAsync(basePath)));
        Assert.Empty((await host.GetJson($"/internal/organizations/{stranger}/webhooks"))["items"]!.AsArray());

        // Unknown ids look exactly the same.
        var unknown = await Read(await client.GetAsync($"/internal/organizations/{owner}/webhooks/{Guid.NewGuid()}"));
        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", unknown);
        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", await Read(await client.GetAsync($"/internal/organizations/{owner}/webhooks/not-a-guid")));
        // And the owner still has it, untouched.
        Assert.Equal("active", (await host.Webhook(owner, webhook.Id))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Every_route_requires_the_internal_key()
    {
        var org = Guid.NewGuid();
        foreach (var key in new[] { null, "wrong-key-0123456789abcdef" })
        {
            var client = host.Client(key);
            AssertError(HttpStatusCode.Unauthorized, "UNAUTHENTICATED", await Read(await client.GetAsync($"/internal/organizations/{org}/webhooks")));
            AssertError(HttpStatusCode.Unauthorized, "UNAUTHENTICATED", await Read(await client.PostAsJsonAsync($"/internal/organizations/{org}/webhooks",
                new { url = host.Receiver.Url("x"), eventTypes = new[] { "session.ready" } })));
        }
        Assert.Empty((await host.GetJson($"/internal/organizations/{org}/webhooks"))["items"]!.AsArray());
    }

    [Fact]
    public async Task Deleting_a_webhook_hides_it_and_drops_its_pending_deliveries()
    {
        var org = Guid.NewGuid();
        var webhook = await host.CreateWebhook(org, $"http://127.0.0.1:{WebhooksHost.ClosedPort()}/gone", "session.ready");
        var deliveryId = await host.SendTest(org, webhook.Id);
        await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Attempts(d).Count >= 1 && WebhooksHost.Status(d) == "pending",
            "a failed attempt with a retry pending");

        var deleted = await Read(await host.Client().DeleteAsync($"/internal/organizations/{org}/webhooks/{webhook.Id}"));
        Assert.Equal(HttpStatusCode.OK, deleted.Status);
        Assert.Equal(webhook.Id.ToString(), deleted.Body["id"]!.GetValue<string>());
        Assert.True(deleted.Body["deleted"]!.GetValue<bool>());

        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", await Read(await host.Client().GetAsync($"/internal/organizations/{org}/webhooks/{webhook.Id}")));
        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", await Read(await host.Client().DeleteAsync($"/internal/organizations/{org}/webhooks/{webhook.Id}")));
        Assert.Empty((await host.GetJson($"/internal/organizations/{org}/webhooks"))["items"]!.AsArray());
        await using var cmd = host.Database.DataSource.CreateCommand("SELECT status, next_attempt_at IS NULL FROM webhooks.deliveries WHERE id = $1");
        cmd.Parameters.Add(new() { Value = deliveryId });
        await using var r = await cmd.ExecuteReaderAsync();
        Assert.True(await r.ReadAsync());
        Assert.Equal("failed", r.GetString(0));
        Assert.True(r.GetBoolean(1));
    }

    [Fact]
    public async Task Enabling_an_active_webhook_changes_nothing()
    {
        var org = Guid.NewGuid();
        var webhook = await host.CreateWebhook(org, host.Receiver.Url("enable-active"), "session.ready");
        var enabled = await host.PostJson($"/internal/organizations/{org}/webhooks/{webhook.Id}/enable");
        Assert.Equal("active", enabled["status"]!.GetValue<string>());
        Assert.Equal(webhook.Body["createdAt"]!.GetValue<string>(), enabled["createdAt"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("limit=0", "limit:")]
    [InlineData("limit=101", "limit:")]
    [InlineData("limit=ten", "limit:")]
    [InlineData("cursor=not-a-cursor", "cursor:")]
    public async Task A_bad_page_size_or_cursor_is_VALIDATION_FAILED(string query, string field)
    {
        var org = Guid.NewGuid();
        var webhook = await host.CreateWebhook(org, host.Receiver.Url("paging"), "session.ready");
        AssertError(HttpStatusCode.BadRequest, "VALIDATION_FAILED",
            await Read(await host.Client().GetAsync($"/internal/organizations/{org}/webhooks/{webhook.Id}/deliveries?{query}")), field);
    }

    [Fact]
    public async Task A_path_organisation_that_is_not_a_guid_and_an_unknown_route_answer_in_the_error_shape()
    {
        AssertError(HttpStatusCode.BadRequest, "VALIDATION_FAILED", await Read(await host.Client().GetAsync("/internal/organizations/acme/webhooks")), "organizationId:");
        AssertError(HttpStatusCode.NotFound, "NOT_FOUND", await Read(await host.Client().GetAsync("/internal/nothing-here")));
    }
}
