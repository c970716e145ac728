using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Contracts;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>
/// <c>GET /v1/billing</c> (the plan and its limits from the API's own catalogue, this month's vCPU-hours from billing, the
/// active boxes from the list projection) and <c>POST /v1/billing/checkout</c> on a platform with no payment provider:
/// the body is checked, then 501 points at the operator's plan route.
/// </summary>
public sealed class BillingRouteTests(ApiHost host) : IClassFixture<ApiHost>, IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Assert.Equal(0, host.Billing.RequestsWithoutKey);
        return Task.CompletedTask;
    }

    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();
    private static string ErrorCode(JsonObject body) => body["error"]!["code"]!.GetValue<string>();

    private async Task<(HttpClient Http, Guid OrgId)> Org(string plan)
    {
        var (id, key) = await host.CreateOrganization(plan);
        return (host.Client(key), id);
    }

    [Fact]
    public async Task Billing_shows_the_plan_its_limits_this_months_period_and_usage()
    {
        var (http, orgId) = await Org("builder");
        host.Billing.SetVcpuSeconds(orgId, 5 * 3600 + 36); // 5.01 vCPU-hours
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsJsonAsync("/v1/browsers", new { weight = "light" })).StatusCode);
        var ended = (await Json(await http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "base" })))["id"]!.GetValue<string>();
        await host.Append(Guid.Parse(ended), new BoxFailed(Guid.Parse(ended), "SCHEDULING_FAILED", "test", host.Clock.Now));

        // The list projection folds the failure in the background: active boxes drop to 1 once it has.
        var billing = await Boxes.Testing.Eventually.Until(async () => await Json(await http.GetAsync("/v1/billing")),
            b => b["usage"]!["activeBoxes"]!.GetValue<long>() == 1, TimeSpan.FromSeconds(15), "the failed sandbox to leave the active count");

        Assert.Equal(["currentPeriod", "limits", "plan", "usage"], billing.Select(p => p.Key).Order());
        Assert.Equal("builder", billing["plan"]!.GetValue<string>());
        var now = host.Clock.Now.UtcDateTime;
        var start = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(start, Time(billing["currentPeriod"]!["start"]!));
        Assert.Equal(start.AddMonths(1), Time(billing["currentPeriod"]!["end"]!));

        var limits = billing["limits"]!.AsObject();
        Assert.Equal(10, limits["concurrentBoxes"]!.GetValue<int>());
        Assert.Equal(60 * 60_000, limits["maxDurationMs"]!.GetValue<long>());
        Assert.Equal(100, limits["monthlyVcpuHours"]!.GetValue<double>());
        Assert.Equal((true, false, false), (limits["features"]!["stealth"]!.GetValue<bool>(), limits["features"]!["recording"]!.GetValue<bool>(),
            limits["features"]!["dedicatedIsolation"]!.GetValue<bool>()));

        Assert.Equal(5.01, billing["usage"]!["vcpuHours"]!.GetValue<double>(), 9);
        var asked = host.Billing.UsageRequests(orgId)[^1];
        Assert.Equal(start, DateTimeOffset.Parse(asked.QueryValue("from")!, CultureInfo.InvariantCulture));
        Assert.Equal(start.AddMonths(1), DateTimeOffset.Parse(asked.QueryValue("to")!, CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task An_unlimited_plan_shows_a_null_monthly_allowance_and_every_feature()
    {
        var (http, _) = await Org("enterprise");
        var billing = await Json(await http.GetAsync("/v1/billing"));
        var limits = billing["limits"]!.AsObject();
        Assert.True(limits.ContainsKey("monthlyVcpuHours"));
        Assert.Null(limits["monthlyVcpuHours"]);
        Assert.Equal(500, limits["concurrentBoxes"]!.GetValue<int>());
        Assert.True(limits["features"]!["recording"]!.GetValue<bool>());
        Assert.Equal(0, billing["usage"]!["vcpuHours"]!.GetValue<double>());
        Assert.Equal(0, billing["usage"]!["activeBoxes"]!.GetValue<long>());
    }

    [Fact]
    public async Task Billing_follows_a_plan_change_on_the_next_request()
    {
        var (http, orgId) = await Org("free");
        Assert.Equal("free", (await Json(await http.GetAsync("/v1/billing")))["plan"]!.GetValue<string>());
        var put = await host.Client(ApiHost.AdminKey).PutAsJsonAsync($"/v1/admin/organizations/{orgId}/plan", new { plan = "pro" });
        Assert.Equal(HttpStatusCode.OK, put.StatusCode);
        var billing = await Json(await http.GetAsync("/v1/billing"));
        Assert.Equal("pro", billing["plan"]!.GetValue<string>());
        Assert.Equal(1000, billing["limits"]!["monthlyVcpuHours"]!.GetValue<double>());
    }

    [Theory]
    [InlineData("{}", "plan")]
    [InlineData("{\"plan\":\"platinum\",\"successUrl\":\"https://app.example.com/ok\"}", "plan")]
    [InlineData("{\"plan\":7,\"successUrl\":\"https://app.example.com/ok\"}", "plan")]
    [InlineData("{\"plan\":\"pro\"}", "successUrl")]
    [InlineData("{\"plan\":\"pro\",\"successUrl\":\"/billing/ok\"}", "successUrl")]
    [InlineData("{\"plan\":\"pro\",\"successUrl\":\"ftp://app.example.com/ok\"}", "successUrl")]
    [InlineData("{\"plan\":\"pro\",\"successUrl\":\"javascript:alert(1)\"}", "successUrl")]
    [InlineData("{\"plan\":\"pro\",\"successUrl\":42}", "successUrl")]
    [InlineData("{\"plan\":\"pro\",\"successUrl\":null}", "successUrl")]
    public async Task Checkout_refuses_a_bad_body_naming_the_field(string body, string field)
    {
        var (http, _) = await Org("free");
        var res = await http.PostAsync("/v1/billing/checkout", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var json = await Json(res);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(json));
        Assert.StartsWith(field + ":", json["error"]!["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task Checkout_without_a_payment_provider_is_501_naming_the_operators_plan_route()
    {
        var (http, _) = await Org("free");
        var res = await http.PostAsJsonAsync("/v1/billing/checkout", new { plan = "pro", successUrl = "https://app.example.com/billing/success" });
        Assert.Equal((HttpStatusCode)501, res.StatusCode);
        var json = await Json(res);
        Assert.Equal("NOT_IMPLEMENTED", ErrorCode(json));
        Assert.Contains("PUT /v1/admin/organizations/{id}/plan", json["error"]!["message"]!.GetValue<string>());
        var billing = await Json(await http.GetAsync("/v1/billing"));
        Assert.Equal("free", billing["plan"]!.GetValue<string>());
    }

    private static DateTimeOffset Time(JsonNode node) => DateTimeOffset.Parse(node.GetValue<string>(), CultureInfo.InvariantCulture);
}
