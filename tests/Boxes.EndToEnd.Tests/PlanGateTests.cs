using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Xunit;

namespace Boxes.EndToEnd.Tests;

/// <summary>
/// The plans' gates through the platform scripts/up.sh started: a feature or limit above the organisation's plan is
/// refused before anything is queued, with the plan that would allow it, and the concurrency limit holds when many
/// creates arrive at once. The figures are the documented defaults (README, "Plans"): free allows 2 boxes at once and
/// 15 minutes; stealth needs builder; recording and dedicated isolation need pro.
/// </summary>
public sealed class PlanGateTests
{
    private const int FreeConcurrentBoxes = 2;
    private static readonly TimeSpan EndedWithin = TimeSpan.FromSeconds(30);
    private readonly Platform _platform = new();

    public static TheoryData<string, object, string, string> AboveFree => new()
    {
        { "browsers", new { weight = "light", stealth = true }, "PLAN_FEATURE_UNAVAILABLE", "builder" },
        { "browsers", new { weight = "light", recording = true }, "PLAN_FEATURE_UNAVAILABLE", "pro" },
        { "browsers", new { weight = "light", isolation = "dedicated" }, "PLAN_FEATURE_UNAVAILABLE", "pro" },
        { "browsers", new { weight = "light", maxDurationMs = 60 * 60_000 }, "PLAN_LIMIT_EXCEEDED", "builder" },
        { "sandboxes", new { runtime = "python", maxDurationMs = 4 * 60 * 60_000 }, "PLAN_LIMIT_EXCEEDED", "pro" },
    };

    [Theory]
    [MemberData(nameof(AboveFree))]
    public async Task What_the_free_plan_does_not_include_is_refused_with_the_plan_that_does_and_nothing_is_queued(
        string kind, object config, string code, string requiredPlan)
    {
        var (_, key) = await _platform.CreateOrganizationAsync("free");
        using var http = _platform.Client(key);

        var res = await http.PostAsJsonAsync($"/v1/{kind}", config);
        var error = (await Platform.ReadJson(res))["error"]!;

        Assert.Equal(HttpStatusCode.Forbidden, res.StatusCode);
        Assert.Equal(code, error["code"]!.GetValue<string>());
        Assert.Equal(requiredPlan, error["requiredPlan"]!.GetValue<string>());
        Assert.Equal("free", error["currentPlan"]!.GetValue<string>());
        Assert.Empty(await Items(http, "browsers"));
        Assert.Empty(await Items(http, "sandboxes"));
    }

    [Fact]
    public async Task Twenty_creates_at_once_on_the_free_plan_start_exactly_its_two_boxes()
    {
        var (_, key) = await _platform.CreateOrganizationAsync("free");
        using var http = _platform.Client(key);

        // Browsers and sandboxes count against the same limit.
        var answers = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i =>
        {
            var kind = i % 2 == 0 ? "browsers" : "sandboxes";
            object config = i % 2 == 0 ? new { weight = "light" } : new { runtime = "base" };
            var res = await http.PostAsJsonAsync($"/v1/{kind}", config);
            return (Kind: kind, Status: res.StatusCode, Body: await Platform.ReadJson(res));
        }));

        var accepted = answers.Where(a => a.Status == HttpStatusCode.Accepted).ToList();
        var refused = answers.Where(a => a.Status != HttpStatusCode.Accepted).ToList();
        try
        {
            Assert.Equal(FreeConcurrentBoxes, accepted.Count);
            Assert.All(refused, a =>
            {
                Assert.Equal(HttpStatusCode.Forbidden, a.Status);
                Assert.Equal("PLAN_LIMIT_EXCEEDED", a.Body["error"]!["code"]!.GetValue<string>());
                Assert.Equal("free", a.Body["error"]!["currentPlan"]!.GetValue<string>());
            });
            var listed = (await Items(http, "browsers")).Concat(await Items(http, "sandboxes")).Select(b => b!["id"]!.GetValue<string>());
            Assert.Equal(accepted.Select(a => a.Body["id"]!.GetValue<string>()).Order(), listed.Order());
        }
        finally
        {
            foreach (var (kind, _, body) in accepted) await http.DeleteAsync($"/v1/{kind}/{body["id"]!.GetValue<string>()}");
        }

        // Once those end, the organisation may start boxes again.
        foreach (var (kind, _, body) in accepted)
            await Platform.WaitForStatus(http, kind, body["id"]!.GetValue<string>(), s => s is "ended" or "failed", EndedWithin);
        var again = await http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "base" });
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        await http.DeleteAsync($"/v1/sandboxes/{(await Platform.ReadJson(again))["id"]!.GetValue<string>()}");
    }

    private static async Task<JsonArray> Items(HttpClient http, string kind) =>
        (await Platform.ReadJson(await http.GetAsync($"/v1/{kind}")))["items"]!.AsArray();
}
