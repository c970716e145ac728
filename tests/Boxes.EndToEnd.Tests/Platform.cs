using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Boxes.Testing;

namespace Boxes.EndToEnd.Tests;

/// <summary>
/// The running platform as scripts/up.sh leaves it (.run/env): only the public HTTP contract, like a customer.
/// </summary>
public sealed class Platform
{
    public Uri ApiUrl { get; } = new(TestEnvironment.Require("BOXES_API_URL"));
    public string ApiKey { get; } = TestEnvironment.Require("BOXES_API_KEY");
    public string AdminKey { get; } = TestEnvironment.Require("BOXES_ADMIN_KEY");
    /// <summary>The worker's own HTTP address, to check from outside that a box left nothing behind.</summary>
    public Uri WorkerUrl { get; } = new(Environment.GetEnvironmentVariable("BOXES_WORKER_URL") is { Length: > 0 } w ? w : "http://127.0.0.1:8082");

    public HttpClient Client(string? key = null)
    {
        var http = new HttpClient { BaseAddress = ApiUrl, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key ?? ApiKey);
        return http;
    }

    public async Task<(string Id, string ApiKey)> CreateOrganizationAsync(string plan = "pro")
    {
        var created = await PlatformAdmin.CreateOrganizationAsync(plan, "e2e");
        return (created.Id, created.ApiKey);
    }

    public static async Task<JsonObject> ReadJson(HttpResponseMessage res) =>
        JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();

    public static Task<JsonObject> WaitForStatus(HttpClient http, string id, Func<string, bool> done, TimeSpan timeout) =>
        WaitForStatus(http, "browsers", id, done, timeout);

    /// <summary>Polls <c>/v1/{kind}/{id}</c> until its status satisfies <paramref name="done"/>.</summary>
    public static async Task<JsonObject> WaitForStatus(HttpClient http, string kind, string id, Func<string, bool> done, TimeSpan timeout)
    {
        return await Eventually.Until(
            async () => await ReadJson(await http.GetAsync($"/v1/{kind}/{id}")),
            s => done(s["status"]!.GetValue<string>()),
            timeout, $"{kind} {id} to reach the expected status");
    }

    public static string Status(JsonObject session) => session["status"]!.GetValue<string>();
}

