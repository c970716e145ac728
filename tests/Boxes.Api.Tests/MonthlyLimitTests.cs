using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Boxes.Api.Auth;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>
/// The plans' monthly vCPU-hour allowance on POST /v1/browsers and /v1/sandboxes: refused with PLAN_LIMIT_EXCEEDED
/// naming requiredPlan and currentPlan once billing's figure for this month reaches it, before anything is appended;
/// billing asked once per organisation per few seconds; and creates going ahead when billing cannot answer.
/// </summary>
public sealed class MonthlyLimitTests(ApiHost host) : IClassFixture<ApiHost>, IAsyncLifetime
{
    private const double Hour = 3600;

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        host.Billing.Mode = FakeBilling.Behaviour.Normal;
        Assert.Equal(0, host.Billing.RequestsWithoutKey);
        return Task.CompletedTask;
    }

    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();
    private static string ErrorCode(JsonObject body) => body["error"]!["code"]!.GetValue<string>();

    private async Task<(HttpClient Http, Guid OrgId, string Key)> Org(string plan)
    {
        var (id, key) = await host.CreateOrganization(plan);
        return (host.Client(key), id, key);
    }

    private static Task<HttpResponseMessage> CreateBrowser(HttpClient http) => http.PostAsJsonAsync("/v1/browsers", new { weight = "light" });
    private static Task<HttpResponseMessage> CreateSandbox(HttpClient http) => http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "base" });

    private static HttpClient ClientOf(WebApplicationFactory<Program> factory, string key)
    {
        var http = factory.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    [Theory]
    [InlineData("free", 10 * Hour, "builder")]
    [InlineData("builder", 100 * Hour + 1, "pro")]
    [InlineData("pro", 1000 * Hour, "enterprise")]
    [InlineData("free", 150 * Hour, "pro")] // the lowest plan whose allowance is above what was used, not just the next one
    public async Task Reaching_the_monthly_allowance_refuses_both_kinds_naming_the_plans_and_appends_nothing(string plan, double usedSeconds, string requiredPlan)
    {
        var (http, orgId, _) = await Org(plan);
        host.Billing.SetVcpuSeconds(orgId, usedSeconds);
        var before = await host.CountEvents();

        foreach (var create in new[] { CreateBrowser, CreateSandbox })
        {
            var res = await create(http);
            Assert.Equal(HttpStatusCode.Forbidden, res.StatusCode);
            var error = (await Json(res))["error"]!;
            Assert.Equal("PLAN_LIMIT_EXCEEDED", error["code"]!.GetValue<string>());
            Assert.Equal(requiredPlan, error["requiredPlan"]!.GetValue<string>());
            Assert.Equal(plan, error["currentPlan"]!.GetValue<string>());
            Assert.Contains("vCPU-hours this month", error["message"]!.GetValue<string>());
        }
        Assert.Equal(before, await host.CountEvents());
        Assert.Empty((await Json(await http.GetAsync("/v1/browsers")))["items"]!.AsArray());
        Assert.Empty((await Json(await http.GetAsync("/v1/sandboxes")))["items"]!.AsArray());

        // Asked for this calendar month (UTC), with the internal key, under the caller's organisation.
        var asked = host.Billing.UsageRequests(orgId)[^1];
        var month = new DateTimeOffset(host.Clock.Now.UtcDateTime.Year, host.Clock.Now.UtcDateTime.Month, 1, 0, 0, 0, TimeSpan.Zero);
        Assert.Equal(month, DateTimeOffset.Parse(asked.QueryValue("from")!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(month.AddMonths(1), DateTimeOffset.Parse(asked.QueryValue("to")!, System.Globalization.CultureInfo.InvariantCulture));
        Assert.True(asked.WithKey);
    }

    [Fact]
    public async Task Usage_just_under_the_allowance_is_let_through()
    {
        var (http, orgId, _) = await Org("free");
        host.Billing.SetVcpuSeconds(orgId, 10 * Hour - 0.001);
        Assert.Equal(HttpStatusCode.Accepted, (await CreateSandbox(http)).StatusCode);
    }

    [Fact]
    public async Task A_plan_without_a_monthly_limit_never_asks_billing()
    {
        var (http, orgId, _) = await Org("enterprise");
        host.Billing.SetVcpuSeconds(orgId, 1_000_000 * Hour);
        Assert.Equal(HttpStatusCode.Accepted, (await CreateBrowser(http)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await CreateSandbox(http)).StatusCode);
        Assert.Empty(host.Billing.UsageRequests(orgId));
    }

    [Fact]
    public async Task With_no_plan_allowing_more_the_refusal_has_no_required_plan()
    {
        var (orgId, key) = await host.CreateOrganization("enterprise");
        await using var api = host.Factory.WithWebHostBuilder(web => web.UseSetting("Plans:Plans:enterprise:MonthlyVcpuHours", "2000"));
        var http = ClientOf(api, key);
        host.Billing.SetVcpuSeconds(orgId, 2000 * Hour);

        var res = await CreateSandbox(http);
        Assert.Equal(HttpStatusCode.Forbidden, res.StatusCode);
        var error = (await Json(res))["error"]!.AsObject();
        Assert.Equal("PLAN_LIMIT_EXCEEDED", error["code"]!.GetValue<string>());
        Assert.False(error.ContainsKey("requiredPlan"));
        Assert.Equal("enterprise", error["currentPlan"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_burst_of_creates_asks_billing_once_and_the_concurrency_limit_still_holds()
    {
        var (http, orgId, _) = await Org("builder"); // 10 at once
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => i % 2 == 0 ? CreateBrowser(http) : CreateSandbox(http)));
        Assert.Equal(10, results.Count(r => r.StatusCode == HttpStatusCode.Accepted));
        foreach (var refused in results.Where(r => r.StatusCode != HttpStatusCode.Accepted))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            var error = (await Json(refused))["error"]!;
            Assert.Equal("PLAN_LIMIT_EXCEEDED", error["code"]!.GetValue<string>());
            Assert.Contains("at once", error["message"]!.GetValue<string>());
        }
        Assert.Single(host.Billing.UsageRequests(orgId));
    }

    [Fact]
    public async Task The_figure_is_reused_for_a_few_seconds_then_asked_again()
    {
        var (http, orgId, _) = await Org("pro");
        Assert.Equal(HttpStatusCode.Accepted, (await CreateSandbox(http)).StatusCode);
        Assert.Single(host.Billing.UsageRequests(orgId));

        // Billing's figure moves past the allowance: the cached one still holds for the cache's 5 seconds...
        host.Billing.SetVcpuSeconds(orgId, 1000 * Hour);
        host.Clock.Now += TimeSpan.FromSeconds(4);
        Assert.Equal(HttpStatusCode.Accepted, (await CreateBrowser(http)).StatusCode);
        Assert.Single(host.Billing.UsageRequests(orgId));

        // ...and is asked again once they are over.
        host.Clock.Now += TimeSpan.FromSeconds(1);
        var refused = await CreateBrowser(http);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        var error = (await Json(refused))["error"]!;
        Assert.Equal(("PLAN_LIMIT_EXCEEDED", "enterprise", "pro"),
            (error["code"]!.GetValue<string>(), error["requiredPlan"]!.GetValue<string>(), error["currentPlan"]!.GetValue<string>()));
        Assert.Equal(2, host.Billing.UsageRequests(orgId).Count);
    }

    [Fact]
    public async Task Feature_and_duration_gates_still_answer_first()
    {
        var (http, orgId, _) = await Org("free");
        host.Billing.SetVcpuSeconds(orgId, 50 * Hour);
        var stealth = await Json(await http.PostAsJsonAsync("/v1/browsers", new { stealth = true }));
        Assert.Equal("PLAN_FEATURE_UNAVAILABLE", ErrorCode(stealth));
        var tooLong = await Json(await http.PostAsJsonAsync("/v1/sandboxes", new { maxDurationMs = 2 * 60 * 60 * 1000 }));
        Assert.Equal("PLAN_LIMIT_EXCEEDED", ErrorCode(tooLong));
        Assert.Contains("maxDurationMs", tooLong["error"]!["message"]!.GetValue<string>());
        var invalid = await http.PostAsJsonAsync("/v1/browsers", new { weight = "enormous" });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
    }

    [Fact]
    public async Task When_billing_is_unreachable_creates_go_ahead_and_a_warning_is_logged()
    {
        var (_, key) = await host.CreateOrganization("free");
        var logs = new CapturedLogs();
        await using var api = host.Factory.WithWebHostBuilder(web =>
        {
            web.UseSetting("Billing:Address", "http://127.0.0.1:1");
            web.ConfigureLogging(l => l.AddProvider(logs));
        });
        var http = ClientOf(api, key);
        Assert.Equal(HttpStatusCode.Accepted, (await CreateBrowser(http)).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await CreateSandbox(http)).StatusCode);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("creates go ahead without the monthly check"));
    }

    [Fact]
    public async Task When_billing_does_not_answer_a_create_waits_only_the_short_check_timeout()
    {
        var (_, key) = await host.CreateOrganization("free");
        await using var api = host.Factory.WithWebHostBuilder(web => web.UseSetting("Billing:LimitCheckTimeout", "00:00:00.3"));
        var http = ClientOf(api, key);
        host.Billing.Mode = FakeBilling.Behaviour.Hang;
        var clock = Stopwatch.StartNew();
        Assert.Equal(HttpStatusCode.Accepted, (await CreateSandbox(http)).StatusCode);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"the create took {clock.Elapsed} with billing silent");
    }

    [Fact]
    public async Task A_usage_answer_without_figures_lets_the_create_through()
    {
        var (http, _, _) = await Org("free");
        host.Billing.Mode = FakeBilling.Behaviour.UsageWithoutFigures;
        Assert.Equal(HttpStatusCode.Accepted, (await CreateBrowser(http)).StatusCode);
    }

    [Fact]
    public void Plan_settings_change_only_the_numbers_they_name_and_the_defaults_are_documented()
    {
        var defaults = new PlanCatalog();
        Assert.Equal([10, 100, 1000, 0], PlanCatalog.Names.Select(n => defaults.For(n).MonthlyVcpuHours));
        Assert.False(defaults.For("enterprise").HasMonthlyLimit);

        var configured = new PlanCatalog();
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Plans:free:MonthlyVcpuHours"] = "2.5",
            ["Plans:enterprise:MonthlyVcpuHours"] = "5000",
        }).Build().Bind(configured);
        Assert.Equal(2.5, configured.For("free").MonthlyVcpuHours);
        Assert.Equal(2, configured.For("free").ConcurrentBoxes); // the rest of free's defaults are kept
        Assert.Equal(15 * 60_000, configured.For("free").MaxDurationMs);
        Assert.Equal(5000, configured.For("enterprise").MonthlyVcpuHours);
        Assert.True(configured.For("enterprise").Recording);

        Assert.Equal("builder", defaults.LowestWithMonthlyAllowanceAbove(10));
        Assert.Equal("free", defaults.LowestWithMonthlyAllowanceAbove(9.99));
        Assert.Equal("enterprise", defaults.LowestWithMonthlyAllowanceAbove(1e9));
        Assert.Null(configured.LowestWithMonthlyAllowanceAbove(5000));
    }
}

/// <summary>Every log entry of the API it is added to, for tests that check what is logged.</summary>
public sealed class CapturedLogs : ILoggerProvider
{
    public sealed record Entry(string Category, LogLevel Level, string Message);

    private readonly ConcurrentQueue<Entry> _entries = new();

    public IReadOnlyList<Entry> Entries => [.. _entries];

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(CapturedLogs owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue(new Entry(category, logLevel, formatter(state, exception)));
    }
}
