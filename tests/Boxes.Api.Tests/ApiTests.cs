using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Api.Auth;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using MassTransit;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Boxes.Api.Tests;

public sealed class ApiTests(ApiHost host) : IClassFixture<ApiHost>
{
    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();
    private static string ErrorCode(JsonObject body) => body["error"]!["code"]!.GetValue<string>();

    private async Task<(HttpClient Http, Guid OrgId)> Org(string plan = "pro")
    {
        var (id, key) = await host.CreateOrganization(plan);
        return (host.Client(key), id);
    }

    private static async Task<Guid> Create(HttpClient http, object? body = null)
    {
        var res = await http.PostAsJsonAsync("/v1/browsers", body ?? new { weight = "light" });
        Assert.Equal(HttpStatusCode.Accepted, res.StatusCode);
        return Guid.Parse((await Json(res))["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_new_organisation_gets_a_br_live_key_that_authenticates_and_only_its_hash_is_stored()
    {
        var (_, key) = await host.CreateOrganization();
        Assert.StartsWith("br_live_", key);
        Assert.Equal(HttpStatusCode.OK, (await host.Client(key).GetAsync("/v1/browsers")).StatusCode);
        await using var cmd = host.Database.DataSource.CreateCommand("SELECT count(*) FROM api.api_keys WHERE key_hash = $1");
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = ApiKeys.Hash(key) });
        Assert.Equal(1L, await cmd.ExecuteScalarAsync());
        await using var plain = host.Database.DataSource.CreateCommand("SELECT count(*) FROM api.api_keys WHERE encode(key_hash, 'escape') LIKE '%br_live_%'");
        Assert.Equal(0L, await plain.ExecuteScalarAsync());
    }

    [Fact]
    public async Task Missing_unknown_and_revoked_keys_are_unauthenticated()
    {
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client().GetAsync("/v1/browsers")).StatusCode);
        var unknown = await host.Client("br_live_" + new string('a', 40)).GetAsync("/v1/browsers");
        Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        Assert.Equal("UNAUTHENTICATED", ErrorCode(await Json(unknown)));

        var (orgId, _) = await host.CreateOrganization();
        var keyRes = await host.Client(ApiHost.AdminKey).PostAsJsonAsync($"/v1/admin/organizations/{orgId}/keys", new { });
        var key = await Json(keyRes);
        var http = host.Client(key["apiKey"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/browsers")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await host.Client(ApiHost.AdminKey).DeleteAsync($"/v1/admin/keys/{key["id"]}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("/v1/browsers")).StatusCode);
    }

    [Fact]
    public async Task Admin_routes_refuse_an_organisation_key_and_organisation_routes_refuse_the_operator_key()
    {
        var (http, _) = await Org();
        var res = await http.PostAsJsonAsync("/v1/admin/organizations", new { name = "sneaky", plan = "enterprise" });
        Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client(ApiHost.AdminKey).GetAsync("/v1/browsers")).StatusCode);
    }

    [Theory]
    [InlineData("{\"weight\":", null)]
    [InlineData("[{\"weight\":\"light\"}]", null)]
    [InlineData("\"light\"", null)]
    [InlineData("{\"weight\":\"enormous\"}", "weight")]
    [InlineData("{\"weight\":3}", "weight")]
    [InlineData("{\"isolation\":\"solo\"}", "isolation")]
    [InlineData("{\"maxDurationMs\":-5}", "maxDurationMs")]
    [InlineData("{\"maxDurationMs\":1.5}", "maxDurationMs")]
    [InlineData("{\"maxDurationMs\":99999999999999999999999}", "maxDurationMs")]
    [InlineData("{\"stealth\":\"yes\"}", "stealth")]
    [InlineData("{\"region\":42}", "region")]
    public async Task Bad_input_is_refused_naming_the_field_and_appends_nothing(string body, string? field)
    {
        var (http, _) = await Org();
        var before = await host.CountEvents();
        var res = await http.PostAsync("/v1/browsers", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var json = await Json(res);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(json));
        if (field is not null) Assert.Contains(field, json["error"]!["message"]!.GetValue<string>());
        Assert.Equal(before, await host.CountEvents());
    }

    [Fact]
    public async Task A_body_over_a_mebibyte_is_refused_in_the_contract_shape()
    {
        var (http, _) = await Org();
        var before = await host.CountEvents();
        var huge = "{\"region\":\"" + new string('x', 2 * 1024 * 1024) + "\"}";
        var res = await http.PostAsync("/v1/browsers", new StringContent(huge, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, res.StatusCode);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(await Json(res)));
        Assert.Equal(before, await host.CountEvents());
    }

    [Fact]
    public async Task Plan_gates_name_the_required_and_current_plan()
    {
        var (free, _) = await Org("free");
        var stealth = await Json(await free.PostAsJsonAsync("/v1/browsers", new { stealth = true }));
        Assert.Equal("PLAN_FEATURE_UNAVAILABLE", ErrorCode(stealth));
        Assert.Equal("builder", stealth["error"]!["requiredPlan"]!.GetValue<string>());
        Assert.Equal("free", stealth["error"]!["currentPlan"]!.GetValue<string>());

        var dedicated = await Json(await free.PostAsJsonAsync("/v1/browsers", new { isolation = "dedicated" }));
        Assert.Equal("pro", dedicated["error"]!["requiredPlan"]!.GetValue<string>());

        var tooLong = await free.PostAsJsonAsync("/v1/browsers", new { maxDurationMs = 2 * 60 * 60 * 1000 });
        Assert.Equal(HttpStatusCode.Forbidden, tooLong.StatusCode);
        Assert.Equal("PLAN_LIMIT_EXCEEDED", ErrorCode(await Json(tooLong)));
    }

    [Fact]
    public async Task Features_not_built_yet_say_so_instead_of_being_ignored()
    {
        var (pro, _) = await Org("pro");
        foreach (var body in new object[] { new { stealth = true }, new { recording = true }, new { captcha = true },
                     new { profileKey = "p" }, new { egressProfile = "e" }, new { proxy = new { protocol = "http", host = "h", port = 1 } } })
        {
            var res = await pro.PostAsJsonAsync("/v1/browsers", body);
            Assert.Equal((HttpStatusCode)501, res.StatusCode);
            Assert.Equal("NOT_IMPLEMENTED", ErrorCode(await Json(res)));
        }
    }

    [Fact]
    public async Task Twenty_creates_at_once_never_exceed_the_plans_concurrency_limit()
    {
        var (free, orgId) = await Org("free"); // free allows 2 boxes at once
        var results = await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => free.PostAsJsonAsync("/v1/browsers", new { weight = "light" })));
        Assert.Equal(2, results.Count(r => r.StatusCode == HttpStatusCode.Accepted));
        Assert.All(results.Where(r => r.StatusCode != HttpStatusCode.Accepted), r => Assert.Equal(HttpStatusCode.Forbidden, r.StatusCode));
        var list = await Json(await free.GetAsync("/v1/browsers"));
        Assert.Equal(2, list["items"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_created_session_is_queued_found_by_get_and_by_list_at_once()
    {
        var (http, _) = await Org();
        var res = await http.PostAsJsonAsync("/v1/browsers", new { weight = "medium", region = "lhr" });
        var created = await Json(res);
        Assert.Equal("queued", created["status"]!.GetValue<string>());
        Assert.Null(created["cdpUrl"]);
        var id = created["id"]!.GetValue<string>();
        var got = await Json(await http.GetAsync($"/v1/browsers/{id}"));
        Assert.Equal("medium", got["weight"]!.GetValue<string>());
        Assert.Equal("lhr", got["region"]!.GetValue<string>());
        var list = await Json(await http.GetAsync("/v1/browsers?status=queued"));
        Assert.Contains(list["items"]!.AsArray(), i => i!["id"]!.GetValue<string>() == id);
    }

    [Fact]
    public async Task The_list_pages_newest_first_with_an_opaque_cursor()
    {
        var (http, _) = await Org();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++) ids.Add(await Create(http));
        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await Json(await http.GetAsync("/v1/browsers?limit=2" + (cursor is null ? "" : "&cursor=" + cursor)));
            seen.AddRange(page["items"]!.AsArray().Select(i => Guid.Parse(i!["id"]!.GetValue<string>())));
            cursor = page["nextCursor"]?.GetValue<string>();
        } while (cursor is not null);
        Assert.Equal(Enumerable.Reverse(ids), seen);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/v1/browsers?cursor=nonsense")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/v1/browsers?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/v1/browsers?status=sleeping")).StatusCode);
    }

    [Fact]
    public async Task Another_organisations_session_is_not_found_and_stays_as_it_was()
    {
        var (owner, _) = await Org();
        var (other, _) = await Org();
        var id = await Create(owner);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/browsers/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.DeleteAsync($"/v1/browsers/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync("/v1/browsers/not-a-guid")).StatusCode);
        Assert.Equal("queued", (await Json(await owner.GetAsync($"/v1/browsers/{id}")))["status"]!.GetValue<string>());
        Assert.Equal(0, (await host.Store.ReadStreamAsync(Streams.ForBox(id))).Count(e => e.Type == nameof(BoxStopRequested)));
    }

    [Fact]
    public async Task Closing_twice_is_accepted_twice_and_asks_to_stop_once()
    {
        var (http, _) = await Org();
        var id = await Create(http);
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"/v1/browsers/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"/v1/browsers/{id}")).StatusCode);
        Assert.Equal(1, (await host.Store.ReadStreamAsync(Streams.ForBox(id))).Count(e => e.Type == nameof(BoxStopRequested)));
        Assert.Equal("ending", (await Json(await http.GetAsync($"/v1/browsers/{id}")))["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task Unknown_routes_and_crashes_answer_in_the_error_shape()
    {
        var (http, _) = await Org();
        var res = await http.GetAsync("/v1/nothing-here");
        Assert.Equal(HttpStatusCode.NotFound, res.StatusCode);
        Assert.Equal("NOT_FOUND", ErrorCode(await Json(res)));
    }

    [Fact]
    public async Task Readiness_needs_a_worker_heartbeat()
    {
        // Only this test publishes heartbeats on this host's own vhost: until it does, not ready.
        var bus = host.Factory.Services.GetRequiredService<IBus>();
        var first = await host.Client().GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, first.StatusCode);
        Assert.Contains("workers", await first.Content.ReadAsStringAsync());
        await bus.Publish(new WorkerHeartbeat("worker-test", "http://127.0.0.1:1", "local", [BoxKinds.Browser], 8, 0, [], DateTimeOffset.UtcNow));
        await Eventually.Until(async () => (await host.Client().GetAsync("/readyz")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(15), "/readyz to answer 200 after a heartbeat");
    }
}
