using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>
/// <c>POST /v1/billing/stripe/webhook</c>: no API key, Stripe's signature instead (verified here by signatures computed
/// independently, from Stripe's documented scheme: hex HMAC-SHA256 of "t.payload"); a paid checkout sets the plan in its
/// metadata, once per event, and an older checkout delivered late does not undo a newer one.
/// </summary>
public sealed class StripeWebhookTests(StripeHost stripe) : IClassFixture<StripeHost>
{
    private const string Path = "/v1/billing/stripe/webhook";

    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();
    private static string ErrorCode(JsonObject body) => body["error"]!["code"]!.GetValue<string>();

    private DateTimeOffset Now => stripe.Host.Clock.Now;

    private static string Event(Guid organizationId, string plan, string type = "checkout.session.completed", string paymentStatus = "paid",
        long? created = null, string? id = null) => new JsonObject
    {
        ["id"] = id ?? "evt_" + Guid.NewGuid().ToString("N"),
        ["object"] = "event",
        ["api_version"] = "2024-06-20",
        ["created"] = created ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["type"] = type,
        ["livemode"] = false,
        ["data"] = new JsonObject
        {
            ["object"] = new JsonObject
            {
                ["id"] = "cs_test_" + Guid.NewGuid().ToString("N"),
                ["object"] = "checkout.session",
                ["mode"] = "subscription",
                ["client_reference_id"] = organizationId.ToString(),
                ["metadata"] = new JsonObject { ["organization_id"] = organizationId.ToString(), ["plan"] = plan },
                ["payment_status"] = paymentStatus,
                ["status"] = "complete",
            },
        },
    }.ToJsonString();

    /// <summary>Stripe's v1 scheme, written here from its documentation rather than taken from the API's code.</summary>
    private static string V1(string secret, long timestamp, string payload) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.UTF8.GetBytes($"{timestamp}.{payload}")));

    private string Header(string payload, DateTimeOffset? at = null, string secret = StripeHost.WebhookSecret)
    {
        var t = (at ?? Now).ToUnixTimeSeconds();
        return $"t={t},v1={V1(secret, t, payload)}";
    }

    private Task<HttpResponseMessage> Deliver(string payload, string? signature, HttpClient? http = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, Path) { Content = new StringContent(payload, Encoding.UTF8, "application/json") };
        if (signature is not null) request.Headers.TryAddWithoutValidation("Stripe-Signature", signature);
        return (http ?? stripe.Client()).SendAsync(request); // no API key: Stripe has none
    }

    private async Task<string> PlanOf(Guid organizationId)
    {
        await using var cmd = stripe.Host.Database.DataSource.CreateCommand("SELECT plan FROM api.organizations WHERE id = $1");
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = organizationId });
        return (string)(await cmd.ExecuteScalarAsync())!;
    }

    private static async Task<string> Outcome(HttpResponseMessage res)
    {
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var body = await Json(res);
        Assert.True(body["received"]!.GetValue<bool>());
        return body["outcome"]!.GetValue<string>();
    }

    [Fact]
    public async Task A_signed_completed_checkout_sets_the_plan_and_the_organisation_sees_it_at_once()
    {
        var (orgId, key) = await stripe.Host.CreateOrganization("free");
        var payload = Event(orgId, "pro");
        Assert.Equal("plan_set", await Outcome(await Deliver(payload, Header(payload))));
        Assert.Equal("pro", await PlanOf(orgId));
        var billing = await Json(await stripe.Client(key).GetAsync("/v1/billing"));
        Assert.Equal("pro", billing["plan"]!.GetValue<string>());
        Assert.Equal(1000, billing["limits"]!["monthlyVcpuHours"]!.GetValue<double>());
    }

    [Fact]
    public async Task The_same_event_delivered_again_changes_nothing()
    {
        var (orgId, _) = await stripe.Host.CreateOrganization("free");
        var payload = Event(orgId, "builder");
        Assert.Equal("plan_set", await Outcome(await Deliver(payload, Header(payload))));
        // The operator moves the organisation meanwhile; Stripe's retry of the old event must not move it back.
        await stripe.Host.Client(ApiHost.AdminKey).PutAsJsonAsync($"/v1/admin/organizations/{orgId}/plan", new { plan = "enterprise" });
        Assert.Equal("duplicate", await Outcome(await Deliver(payload, Header(payload))));
        Assert.Equal("enterprise", await PlanOf(orgId));
        var concurrent = await Task.WhenAll(Enumerable.Range(0, 5).Select(_ => Deliver(payload, Header(payload))));
        Assert.All(concurrent, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal("enterprise", await PlanOf(orgId));
    }

    [Fact]
    public async Task An_older_checkout_delivered_after_a_newer_one_does_not_undo_it()
    {
        var (orgId, _) = await stripe.Host.CreateOrganization("free");
        var t = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var older = Event(orgId, "builder", created: t - 60);
        var newer = Event(orgId, "pro", created: t);
        Assert.Equal("plan_set", await Outcome(await Deliver(newer, Header(newer))));
        Assert.Equal("superseded", await Outcome(await Deliver(older, Header(older))));
        Assert.Equal("pro", await PlanOf(orgId));
    }

    [Fact]
    public async Task A_tampered_payload_or_another_secrets_signature_is_401_and_changes_nothing()
    {
        var (orgId, _) = await stripe.Host.CreateOrganization("free");
        var payload = Event(orgId, "builder");
        var tampered = payload.Replace("\"builder\"", "\"enterprise\"", StringComparison.Ordinal);
        foreach (var (body, signature) in new[]
                 {
                     (tampered, Header(payload)),
                     (payload, Header(payload, secret: "whsec_someone_elses_secret_000000")),
                     (payload, Header(payload) + "0"),
                     (payload, $"t={Now.ToUnixTimeSeconds() + 1},v1={V1(StripeHost.WebhookSecret, Now.ToUnixTimeSeconds(), payload)}"),
                 })
        {
            var res = await Deliver(body, signature);
            Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
            Assert.Equal("UNAUTHENTICATED", ErrorCode(await Json(res)));
        }
        Assert.Equal("free", await PlanOf(orgId));
    }

    [Fact]
    public async Task A_signature_more_than_five_minutes_old_or_ahead_is_401_and_one_within_is_accepted()
    {
        var (orgId, _) = await stripe.Host.CreateOrganization("free");
        foreach (var at in new[] { Now.AddMinutes(-5).AddSeconds(-2), Now.AddMinutes(5).AddSeconds(2), Now.AddDays(-1) })
        {
            var payload = Event(orgId, "pro");
            var res = await Deliver(payload, Header(payload, at));
            Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
            Assert.Contains("timestamp", (await Json(res))["error"]!["message"]!.GetValue<string>());
        }
        Assert.Equal("free", await PlanOf(orgId));

        var recent = Event(orgId, "builder");
        Assert.Equal("plan_set", await Outcome(await Deliver(recent, Header(recent, Now.AddMinutes(-4)))));
        Assert.Equal("builder", await PlanOf(orgId));
    }

    [Fact]
    public async Task Any_one_v1_signature_verifying_is_enough_as_while_stripe_rolls_a_secret()
    {
        var (orgId, _) = await stripe.Host.CreateOrganization("free");
        var payload = Event(orgId, "pro");
        var t = Now.ToUnixTimeSeconds();
        var header = $"t={t},v1={V1("whsec_the_old_secret_0000000000", t, payload)},v1={V1(StripeHost.WebhookSecret, t, payload)},v0=abc";
        Assert.Equal("plan_set", await Outcome(await Deliver(payload, header)));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("v1=abcdef")]
    [InlineData("t=yesterday,v1=abcdef")]
    [InlineData("t=1700000000")]
    [InlineData("t=1700000000,v0=abcdef")]
    public async Task A_missing_or_unreadable_signature_header_is_400(string? header)
    {
        var (orgId, _) = await stripe.Host.CreateOrganization("free");
        var res = await Deliver(Event(orgId, "pro"), header);
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var error = await Json(res);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(error));
        Assert.StartsWith("Stripe-Signature:", error["error"]!["message"]!.GetValue<string>());
        Assert.Equal("free", await PlanOf(orgId));
    }

    [Fact]
    public async Task Only_paid_checkouts_change_the_plan()
    {
        var (orgId, _) = await stripe.Host.CreateOrganization("free");
        var unpaid = Event(orgId, "pro", paymentStatus: "unpaid");
        Assert.Equal("ignored", await Outcome(await Deliver(unpaid, Header(unpaid))));
        var other = Event(orgId, "pro", type: "customer.subscription.updated");
        Assert.Equal("ignored", await Outcome(await Deliver(other, Header(other))));
        Assert.Equal("free", await PlanOf(orgId));

        var paidLater = Event(orgId, "pro", type: "checkout.session.async_payment_succeeded");
        Assert.Equal("plan_set", await Outcome(await Deliver(paidLater, Header(paidLater))));
        Assert.Equal("pro", await PlanOf(orgId));
    }

    [Fact]
    public async Task Signed_events_the_api_cannot_act_on_are_acknowledged_so_stripe_stops_retrying()
    {
        var unknown = Event(Guid.NewGuid(), "pro");
        Assert.Equal("unknown_organization", await Outcome(await Deliver(unknown, Header(unknown))));
        var (orgId, _) = await stripe.Host.CreateOrganization("free");
        var badPlan = Event(orgId, "platinum");
        Assert.Equal("ignored", await Outcome(await Deliver(badPlan, Header(badPlan))));
        Assert.Equal("free", await PlanOf(orgId));

        const string notJson = "this is not an event";
        var res = await Deliver(notJson, Header(notJson));
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
    }

    [Fact]
    public async Task The_checkout_flow_end_to_end_session_then_webhook_then_the_new_plans_limits()
    {
        var (orgId, key) = await stripe.Host.CreateOrganization("free");
        var http = stripe.Client(key);
        var checkout = await http.PostAsJsonAsync("/v1/billing/checkout", new { plan = "builder", successUrl = "https://app.example.com/ok" });
        Assert.Equal(HttpStatusCode.OK, checkout.StatusCode);
        // What Stripe stores on the session is what it sends back in the webhook.
        var sent = stripe.Stripe.Requests.Last(r => r.Form.GetValueOrDefault("client_reference_id") == orgId.ToString());
        var payload = Event(Guid.Parse(sent.Form["metadata[organization_id]"]), sent.Form["metadata[plan]"]);
        Assert.Equal("plan_set", await Outcome(await Deliver(payload, Header(payload))));

        var stealth = await http.PostAsJsonAsync("/v1/browsers", new { stealth = true });
        Assert.NotEqual("PLAN_FEATURE_UNAVAILABLE", (await Json(stealth))["error"]!["code"]!.GetValue<string>()); // builder has stealth (501: not built)
        var again = await http.PostAsJsonAsync("/v1/billing/checkout", new { plan = "builder", successUrl = "https://app.example.com/ok" });
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task Without_a_webhook_secret_the_route_is_501()
    {
        var (orgId, _) = await stripe.Host.CreateOrganization("free");
        var payload = Event(orgId, "pro");
        var res = await Deliver(payload, Header(payload), stripe.Host.Client());
        Assert.Equal((HttpStatusCode)501, res.StatusCode);
        Assert.Equal("NOT_IMPLEMENTED", ErrorCode(await Json(res)));
        Assert.Equal("free", await PlanOf(orgId));
    }
}
