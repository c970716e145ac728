using System.Net;
using System.Text.Json.Nodes;
using Boxes.Billing.Tests.Infrastructure;
using Boxes.Billing.Usage;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>The internal routes' edges: the internal key, parameters refused naming the field, the error shape.</summary>
public sealed class RouteTests(BillingHost host) : IClassFixture<BillingHost>
{
    private static readonly Guid Org = Guid.Parse("7d1c1e53-2f5e-4f63-9a3e-0b8d2f6a9c41");

    public static TheoryData<string, string> BadRequests => new()
    {
        { "/internal/usage/export?after=not-a-cursor", "after" },
        { "/internal/usage/export?after=AAAAAAAAAAAAAAAAAAAAAA%3D%3D", "after" },
        { "/internal/usage/export?format=xml", "format" },
        { "/internal/usage/export?format=CSV", "format" },
        { "/internal/usage/export?limit=0", "limit" },
        { "/internal/usage/export?limit=10001", "limit" },
        { "/internal/usage/export?limit=ten", "limit" },
        { "/internal/usage/export?limit=-5", "limit" },
        { "/internal/usage/export?limit=1.5", "limit" },
        { $"/internal/organizations/{Org}/usage/export?after=xyz", "after" },
        { $"/internal/organizations/{Org}/usage/export?format=json", "format" },
        { $"/internal/organizations/{Org}/usage/export?limit=99999", "limit" },
        { "/internal/organizations/not-a-guid/usage/export", "organizationId" },
        { "/internal/organizations/not-a-guid/usage", "organizationId" },
        { $"/internal/organizations/{Org}/usage?from=yesterday", "from" },
        { $"/internal/organizations/{Org}/usage?from=03/01/2026", "from" },
        { $"/internal/organizations/{Org}/usage?to=2026-13-01", "to" },
        { $"/internal/organizations/{Org}/usage?from=2026-03-02T00:00:00Z&to=2026-03-01T00:00:00Z", "to" },
        { $"/internal/organizations/{Org}/usage?from=2026-03-01T00:00:00Z&to=2026-03-01T00:00:00Z", "to" },
        { $"/internal/organizations/{Org}/usage?from=2025-01-01T00:00:00Z&to=2026-03-01T00:00:00Z", "to" },
    };

    [Theory]
    [MemberData(nameof(BadRequests))]
    public async Task A_bad_parameter_is_refused_naming_the_field(string path, string field)
    {
        var res = await host.Client().GetAsync(path);
        var text = await res.Content.ReadAsStringAsync();
        Assert.True(res.StatusCode == HttpStatusCode.BadRequest, $"{path} answered {(int)res.StatusCode}: {text}");
        var error = JsonNode.Parse(text)!["error"]!;
        Assert.Equal("VALIDATION_FAILED", error["code"]!.GetValue<string>());
        Assert.StartsWith(field + ":", error["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_period_of_exactly_366_days_and_a_date_alone_are_accepted()
    {
        var usage = await host.Usage(Org, "?from=2025-03-01&to=2026-03-02");
        Assert.Equal("2025-03-01T00:00:00.000Z", usage["period"]!["from"]!.GetValue<string>());
        Assert.Equal("2026-03-02T00:00:00.000Z", usage["period"]!["to"]!.GetValue<string>());
    }

    [Fact]
    public async Task An_unknown_organisation_has_no_usage_and_an_empty_feed()
    {
        var usage = await host.Usage(Guid.NewGuid());
        Assert.Equal(0, usage["totalSessions"]!.GetValue<int>());
        Assert.Equal(0m, usage["totalBrowserHours"]!.GetValue<decimal>());
        Assert.Equal(0m, usage["totalVcpuSeconds"]!.GetValue<decimal>());
        foreach (var kind in new[] { "browser", "sandbox" })
        {
            Assert.Equal(0, usage["byKind"]![kind]!["sessions"]!.GetValue<int>());
            Assert.Equal(0m, usage["byKind"]![kind]!["hours"]!.GetValue<decimal>());
            Assert.Equal(0m, usage["byKind"]![kind]!["vcpuSeconds"]!.GetValue<decimal>());
        }
        var feed = await host.Export($"/internal/organizations/{Guid.NewGuid()}/usage/export?format=csv");
        Assert.Equal(HttpStatusCode.OK, feed.Status);
        Assert.Equal(UsageFormats.CsvHeader + "\n", feed.Text);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("the-wrong-internal-key-0123456789")]
    public async Task Every_route_needs_the_internal_key(string? key)
    {
        foreach (var path in new[] { $"/internal/organizations/{Org}/usage", $"/internal/organizations/{Org}/usage/export", "/internal/usage/export" })
        {
            var res = await host.Client(key).GetAsync(path);
            Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
            Assert.Equal("UNAUTHENTICATED", JsonNode.Parse(await res.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task An_unknown_route_and_a_wrong_method_answer_in_the_error_shape()
    {
        var missing = await host.Client().GetAsync("/internal/usage/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("NOT_FOUND", JsonNode.Parse(await missing.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());

        var post = await host.Client().PostAsync("/internal/usage/export", null);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        Assert.Equal("METHOD_NOT_ALLOWED", JsonNode.Parse(await post.Content.ReadAsStringAsync())!["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_service_reports_healthy()
    {
        var res = await host.Client(key: null).GetAsync("/healthz");
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
    }
}
