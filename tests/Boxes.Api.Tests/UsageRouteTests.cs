using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>
/// <c>/v1/usage</c>, <c>/v1/usage/export</c> and the operator's <c>/v1/admin/usage/export</c> against a stand-in billing
/// service: what is forwarded (route, organisation, query, key), what comes back (status, body, content type and the
/// feed's cursor header as billing gave them), what the edge refuses without asking, and what the caller sees when billing
/// is down, silent or not keeping its contract.
/// </summary>
public sealed class UsageRouteTests(ApiHost host) : IClassFixture<ApiHost>, IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        host.Billing.Mode = FakeBilling.Behaviour.Normal;
        Assert.Equal(0, host.Billing.RequestsWithoutKey);
        return Task.CompletedTask;
    }

    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();
    private static string ErrorCode(JsonObject body) => body["error"]!["code"]!.GetValue<string>();

    private async Task<(HttpClient Http, Guid OrgId)> Org(string plan = "pro")
    {
        var (id, key) = await host.CreateOrganization(plan);
        return (host.Client(key), id);
    }

    private FakeBilling.Request LastRequest() => host.Billing.Requests[^1];

    private WebApplicationFactory<Program> ApiWith(string billingAddress, string? timeout = null) => host.Factory.WithWebHostBuilder(web =>
    {
        web.UseSetting("Billing:Address", billingAddress);
        if (timeout is not null) web.UseSetting("Billing:Timeout", timeout);
    });

    private static HttpClient ClientOf(WebApplicationFactory<Program> factory, string key)
    {
        var http = factory.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    [Fact]
    public async Task Usage_is_billings_answer_for_the_callers_organisation_passed_through_with_the_period_forwarded()
    {
        var (http, orgId) = await Org();
        host.Billing.SetVcpuSeconds(orgId, 5400);

        var res = await http.GetAsync("/v1/usage?from=2026-01-01T00:00:00Z&to=2026-02-01T00:00:00%2B01:00&organizationId=" + Guid.NewGuid());
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var body = await Json(res);
        Assert.Equal("fake-billing", body["servedBy"]!.GetValue<string>()); // billing's body, not one the API rebuilt
        Assert.Equal(5400, body["totalVcpuSeconds"]!.GetValue<double>());
        Assert.Equal(3, body["totalSessions"]!.GetValue<int>());
        Assert.Equal(0.25, body["totalBrowserHours"]!.GetValue<double>());
        Assert.Equal(3600, body["byKind"]!["sandbox"]!["vcpuSeconds"]!.GetValue<double>());
        Assert.Equal("2026-02-01T00:00:00+01:00", body["period"]!["to"]!.GetValue<string>());

        var sent = LastRequest();
        Assert.Equal(("GET", $"/internal/organizations/{orgId}/usage"), (sent.Method, sent.Path));
        Assert.True(sent.WithKey);
        Assert.Equal("2026-01-01T00:00:00Z", sent.QueryValue("from"));
        Assert.Equal("2026-02-01T00:00:00+01:00", sent.QueryValue("to"));
        Assert.Null(sent.QueryValue("organizationId")); // only the period is forwarded; the organisation is the key's

        var noPeriod = await http.GetAsync("/v1/usage");
        Assert.Equal(HttpStatusCode.OK, noPeriod.StatusCode);
        Assert.Equal("", LastRequest().Query); // billing's default: this calendar month
    }

    [Fact]
    public async Task Billings_refusal_of_a_period_is_passed_through_and_a_repeated_parameter_never_reaches_it()
    {
        var (http, orgId) = await Org();
        var refused = await http.GetAsync("/v1/usage?from=yesterday");
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var body = await Json(refused);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(body));
        Assert.StartsWith("from:", body["error"]!["message"]!.GetValue<string>());

        var before = host.Billing.UsageRequests(orgId).Count;
        foreach (var query in new[] { "?from=a&from=b", "?to=" + new string('9', 65) })
        {
            var res = await http.GetAsync("/v1/usage" + query);
            Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
            Assert.Equal("VALIDATION_FAILED", ErrorCode(await Json(res)));
        }
        Assert.Equal(before, host.Billing.UsageRequests(orgId).Count);
    }

    [Theory]
    [InlineData("ndjson", "application/x-ndjson")]
    [InlineData("csv", "text/csv")]
    public async Task The_export_streams_billings_feed_for_the_callers_organisation_with_its_content_type_and_cursor(string format, string mediaType)
    {
        var (http, orgId) = await Org();
        var res = await http.GetAsync($"/v1/usage/export?after={Uri.EscapeDataString("opaque/+=cursor")}&format={format}&limit=500");
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Equal(mediaType, res.Content.Headers.ContentType!.MediaType);
        Assert.Equal(FakeBilling.NextCursor("opaque/+=cursor"), res.Headers.GetValues("X-Next-Cursor").Single());
        var lines = (await res.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (format == "csv")
        {
            Assert.Equal("id,organizationId,boxId,kind,weight,size,start,end,vcpus,vcpuSeconds", lines[0]);
            Assert.All(lines.Skip(1), l => Assert.Contains($",{orgId},", l));
        }
        else
        {
            Assert.All(lines, l => Assert.Equal(orgId.ToString(), JsonNode.Parse(l)!["organizationId"]!.GetValue<string>()));
        }

        var sent = LastRequest();
        Assert.Equal(("GET", $"/internal/organizations/{orgId}/usage/export"), (sent.Method, sent.Path));
        Assert.Equal(("opaque/+=cursor", format, "500"), (sent.QueryValue("after"), sent.QueryValue("format"), sent.QueryValue("limit")));

        // From the start: no cursor forwarded, billing's defaults.
        var first = await http.GetAsync("/v1/usage/export");
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(FakeBilling.NextCursor(null), first.Headers.GetValues("X-Next-Cursor").Single());
        Assert.Equal("", LastRequest().Query);
    }

    [Theory]
    [InlineData("format=xml", "format")]
    [InlineData("format=csv&format=ndjson", "format")]
    [InlineData("limit=0", "limit")]
    [InlineData("limit=10001", "limit")]
    [InlineData("limit=ten", "limit")]
    [InlineData("limit=-1", "limit")]
    public async Task The_export_refuses_a_bad_query_naming_the_field_without_asking_billing(string query, string field)
    {
        var (http, _) = await Org();
        var before = host.Billing.Requests.Count;
        var res = await http.GetAsync("/v1/usage/export?" + query);
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var body = await Json(res);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(body));
        Assert.StartsWith(field + ":", body["error"]!["message"]!.GetValue<string>());
        Assert.Equal(before, host.Billing.Requests.Count);
    }

    [Fact]
    public async Task A_cursor_billing_did_not_hand_out_is_billings_400_passed_through()
    {
        var (http, _) = await Org();
        var res = await http.GetAsync("/v1/usage/export?after=not-ours");
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(await Json(res)));
        Assert.False(res.Headers.Contains("X-Next-Cursor"));
    }

    [Fact]
    public async Task The_operators_export_reads_every_organisation_and_needs_the_operator_key()
    {
        var (http, _) = await Org();
        var asOrg = await http.GetAsync("/v1/admin/usage/export");
        Assert.Equal(HttpStatusCode.Unauthorized, asOrg.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client().GetAsync("/v1/admin/usage/export")).StatusCode);
        Assert.DoesNotContain(host.Billing.Requests, r => r.Path == "/internal/usage/export");

        var res = await host.Client(ApiHost.AdminKey).GetAsync("/v1/admin/usage/export?format=csv&limit=2&after=abc");
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Equal("text/csv", res.Content.Headers.ContentType!.MediaType);
        Assert.Equal(FakeBilling.NextCursor("abc"), res.Headers.GetValues("X-Next-Cursor").Single());
        var organisations = (await res.Content.ReadAsStringAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(l => l.Split(',')[1]).Distinct().Count();
        Assert.Equal(2, organisations);
        var sent = LastRequest();
        Assert.Equal(("GET", "/internal/usage/export", "?after=abc&format=csv&limit=2"), (sent.Method, sent.Path, sent.Query));
        Assert.True(sent.WithKey);

        var bad = await host.Client(ApiHost.AdminKey).GetAsync("/v1/admin/usage/export?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
    }

    [Fact]
    public async Task When_billing_is_down_silent_or_off_contract_usage_and_export_answer_502()
    {
        var (_, key) = await host.CreateOrganization();
        var paths = new[] { "/v1/usage", "/v1/usage/export", "/v1/billing" };

        await using (var down = ApiWith("http://127.0.0.1:1"))
        {
            var http = ClientOf(down, key);
            foreach (var path in paths)
            {
                var res = await http.GetAsync(path);
                Assert.Equal(HttpStatusCode.BadGateway, res.StatusCode);
                Assert.Equal("UPSTREAM_UNAVAILABLE", ErrorCode(await Json(res)));
            }
        }

        await using (var silent = ApiWith(host.Billing.Address, timeout: "00:00:00.5"))
        {
            host.Billing.Mode = FakeBilling.Behaviour.Hang;
            var http = ClientOf(silent, key);
            foreach (var path in paths)
            {
                var res = await http.GetAsync(path);
                Assert.Equal(HttpStatusCode.BadGateway, res.StatusCode);
                Assert.Contains("did not answer", (await Json(res))["error"]!["message"]!.GetValue<string>());
            }
        }

        host.Billing.Mode = FakeBilling.Behaviour.BareNotFound;
        foreach (var path in paths)
        {
            var res = await host.Client(key).GetAsync(path);
            Assert.Equal(HttpStatusCode.BadGateway, res.StatusCode);
            Assert.Equal("UPSTREAM_UNAVAILABLE", ErrorCode(await Json(res)));
        }
    }

    [Fact]
    public async Task Billing_refusing_the_internal_key_is_the_platforms_502_not_the_callers_401()
    {
        var (_, key) = await host.CreateOrganization();
        await using var wrongKey = host.Factory.WithWebHostBuilder(web => web.UseSetting("Boxes:InternalKey", "some_other_internal_key_0123456789"));
        var res = await ClientOf(wrongKey, key).GetAsync("/v1/usage");
        Assert.Equal(HttpStatusCode.BadGateway, res.StatusCode);
        Assert.Contains("credentials", (await Json(res))["error"]!["message"]!.GetValue<string>());
        // The refused requests were the wrong key's: nothing else reached billing without ours.
        Assert.Equal(1, host.Billing.RequestsWithoutKey);
        host.Billing.ForgetRequestsWithoutKey();
    }
}
