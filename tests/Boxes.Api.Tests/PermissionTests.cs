using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Boxes.Api.Auth;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Xunit;
using static Boxes.Api.Tests.TenancyHelpers;

namespace Boxes.Api.Tests;

/// <summary>
/// Per-key permissions: the route table covers every /v1 route the app maps (read from its EndpointDataSource), each
/// permission refuses exactly the routes it guards and nothing changes when it does, "*" and an empty list mean all,
/// unknown names are refused when a key is made, and the routes that carry their own credential need no key.
/// </summary>
public sealed class PermissionTests(ApiHost host) : IClassFixture<ApiHost>
{
    private IReadOnlyList<MappedRoute> Routes() => V1Routes(host.Factory.Services);

    /// <summary>The route's rule; a route without one is the first test's failure, so the others leave it out.</summary>
    private static RouteRule RuleOf(MappedRoute route) => RoutePermissions.Rules.GetValueOrDefault((route.Method, route.Pattern)) ?? Unlisted;

    private static readonly RouteRule Unlisted = new((RouteAuthorization)(-1));

    /// <summary>A path for the route with fresh ids (and a segment for a catch-all), so it names nothing that exists.</summary>
    private static string SomePath(MappedRoute route) => route.Path(name => name == "rest" ? "anything" : Guid.NewGuid().ToString());

    [Fact]
    public void Every_v1_route_the_app_maps_has_a_rule_in_the_permission_table()
    {
        var routes = Routes();
        Assert.Contains(routes, r => r.Pattern == "/v1/sandboxes/{id}/exec"); // the enumeration sees the app's routes
        var missing = routes.Where(r => !RoutePermissions.Rules.ContainsKey((r.Method, r.Pattern))).ToList();
        Assert.True(missing.Count == 0,
            "These routes have no rule, so every key is refused on them; add them to services/api/Auth/RoutePermissions.cs:\n"
            + string.Join('\n', missing.Select(r => $"    [(\"{r.Method}\", \"{r.Pattern}\")] = Key(Permissions.<which>),")));
        foreach (var route in routes)
        {
            var admin = route.Pattern.StartsWith("/v1/admin/", StringComparison.Ordinal);
            Assert.True(admin == (RuleOf(route).Authorization == RouteAuthorization.Operator),
                $"{route}: the operator routes are exactly those under /v1/admin, but its rule is {RuleOf(route)}");
        }
    }

    [Fact]
    public void The_table_names_only_known_permissions_and_every_permission_guards_a_route()
    {
        var named = RoutePermissions.Rules.Values.Where(r => r.Authorization == RouteAuthorization.ApiKey).Select(r => r.Permission!).ToHashSet();
        Assert.All(named, p => Assert.Contains(p, Permissions.Names));
        Assert.All(Permissions.Names, p => Assert.Contains(p, named));
        Assert.All(RoutePermissions.Rules.Where(r => r.Value.Authorization != RouteAuthorization.ApiKey), r => Assert.Null(r.Value.Permission));
    }

    [Fact]
    public async Task Each_permission_refuses_the_routes_it_guards_changing_nothing_and_allows_them_when_the_key_has_it()
    {
        var (orgId, _) = await host.CreateOrganization();
        var withoutOne = new Dictionary<string, string>();
        var onlyOne = new Dictionary<string, string>();
        foreach (var permission in Permissions.Names)
        {
            withoutOne[permission] = (await CreateKey(host, orgId, [.. Permissions.Names.Where(p => p != permission)])).Key;
            onlyOne[permission] = (await CreateKey(host, orgId, permission)).Key;
        }
        var guarded = Routes().Where(r => RuleOf(r).Authorization == RouteAuthorization.ApiKey).ToList();
        Assert.Contains(guarded, r => r.Pattern == "/v1/webhooks/{id}/deliveries/{deliveryId}/replay");

        var events = await host.CountEvents();
        var webhookCalls = host.Webhooks.Requests.Count;
        var artifactCalls = host.Artifacts.Requests;
        foreach (var route in guarded)
        {
            var permission = RuleOf(route).Permission!;
            var res = await host.Client(withoutOne[permission]).SendAsync(Request(route, SomePath(route)));
            var body = await Json(res);
            Assert.True(res.StatusCode == HttpStatusCode.Forbidden && ErrorCode(body) == "PERMISSION_DENIED",
                $"{route} with a key lacking only {permission} answered {StatusOf(res)}: {body.ToJsonString()}");
            Assert.Contains(permission, ErrorMessage(body));
        }
        Assert.Equal(events, await host.CountEvents());
        Assert.Equal(webhookCalls, host.Webhooks.Requests.Count);
        Assert.Equal(artifactCalls, host.Artifacts.Requests);

        // The same routes with the permission, with "*", and with an empty list: never PERMISSION_DENIED (what they answer
        // instead is theirs: 404 for the fresh ids, 400 for the empty bodies, 202 for creates, 501 for what is not built).
        var all = (await CreateKey(host, orgId)).Key;
        var star = (await CreateKey(host, orgId, Permissions.All)).Key;
        foreach (var route in guarded)
        {
            foreach (var (name, key) in new[] { ("only " + RuleOf(route).Permission, onlyOne[RuleOf(route).Permission!]), ("[]", all), ("[\"*\"]", star) })
            {
                var res = await host.Client(key).SendAsync(Request(route, SomePath(route)));
                Assert.False(await IsPermissionDenied(res), $"{route} with a key of {name} was refused: {(await Json(res)).ToJsonString()}");
            }
        }
    }

    [Fact]
    public async Task A_missing_permission_is_the_same_refusal_for_an_own_a_foreign_and_a_missing_box()
    {
        var (orgA, keyA) = await host.CreateOrganization();
        var (_, keyB) = await host.CreateOrganization();
        var own = await CreateSandbox(host.Client(keyA));
        var foreign = await CreateSandbox(host.Client(keyB));
        var (_, readOnly) = await CreateKey(host, orgA, Permissions.SandboxesRead);
        var http = host.Client(readOnly);

        var answers = new List<string>();
        foreach (var id in new[] { own, foreign, Guid.NewGuid() })
        {
            var res = await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "true" });
            var body = await Json(res);
            answers.Add($"{(int)res.StatusCode} {ErrorCode(body)} {ErrorMessage(body)!.Replace(id.ToString(), "{id}")}");
        }
        Assert.Single(answers.Distinct());
        Assert.StartsWith("403 PERMISSION_DENIED", answers[0]);
        Assert.Contains(Permissions.SandboxesExec, answers[0]);
        // What the key does have still works.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/v1/sandboxes/{own}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/sandboxes/{foreign}")).StatusCode);
    }

    [Fact]
    public async Task A_read_only_key_sees_a_ready_box_without_the_websocket_urls_that_would_let_it_in()
    {
        var (orgId, key) = await host.CreateOrganization();
        var full = host.Client(key);
        var browser = Guid.Parse((await Json(await full.PostAsJsonAsync("/v1/browsers", new { weight = "light" })))["id"]!.GetValue<string>());
        var sandbox = await CreateSandbox(full);
        await host.MakeReady(browser, "ws://127.0.0.1:9/devtools/browser/x");
        await host.MakeReady(sandbox, "http://127.0.0.1:9");
        var readOnly = host.Client((await CreateKey(host, orgId, Permissions.BrowsersRead, Permissions.SandboxesRead, Permissions.SandboxesWrite)).Key);
        var driver = host.Client((await CreateKey(host, orgId, Permissions.BrowsersWrite, Permissions.BrowsersRead, Permissions.SandboxesExec, Permissions.SandboxesRead)).Key);

        foreach (var (path, url) in new[] { ($"/v1/browsers/{browser}", "cdpUrl"), ($"/v1/sandboxes/{sandbox}", "terminalUrl") })
        {
            var seen = await Json(await readOnly.GetAsync(path));
            Assert.Equal("ready", seen["status"]!.GetValue<string>());
            Assert.Null(seen[url]);
            var listed = (await Json(await readOnly.GetAsync(path[..path.LastIndexOf('/')])))["items"]!.AsArray();
            Assert.All(listed, item => Assert.Null(item![url]));
            // A key that may drive the box gets the URL, with a working token.
            Assert.StartsWith("ws://", (await Json(await driver.GetAsync(path)))[url]!.GetValue<string>());
        }
    }

    [Fact]
    public async Task A_browsers_read_key_lists_browsers_but_cannot_create_a_sandbox_or_a_browser()
    {
        var (orgId, _) = await host.CreateOrganization();
        var (_, key) = await CreateKey(host, orgId, Permissions.BrowsersRead);
        var http = host.Client(key);
        var events = await host.CountEvents();
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/browsers")).StatusCode);
        foreach (var (route, needs) in new[] { ("/v1/sandboxes", Permissions.SandboxesWrite), ("/v1/browsers", Permissions.BrowsersWrite) })
        {
            var res = await http.PostAsJsonAsync(route, new { });
            var body = await Json(res);
            Assert.Equal(HttpStatusCode.Forbidden, res.StatusCode);
            Assert.Equal("PERMISSION_DENIED", ErrorCode(body));
            Assert.Contains(needs, ErrorMessage(body));
        }
        Assert.Equal(events, await host.CountEvents());
    }

    [Theory]
    [InlineData("[\"browsers:read\", \"browsers:delete\"]", "permissions[1]", "browsers:delete")]
    [InlineData("[\"Browsers:Read\"]", "permissions[0]", "Browsers:Read")]
    [InlineData("[\"sandboxes:write\", \"\"]", "permissions[1]", "\"\"")]
    [InlineData("[\"all\"]", "permissions[0]", "all")]
    [InlineData("[\"browsers:read\", 7]", "permissions", "array of strings")]
    [InlineData("\"browsers:read\"", "permissions", "array of strings")]
    public async Task Unknown_permissions_are_refused_when_a_key_is_made_naming_the_entry(string permissions, string field, string named)
    {
        var (orgId, _) = await host.CreateOrganization();
        var keysBefore = await KeysOf(orgId);
        var res = await host.Client(ApiHost.AdminKey).PostAsync($"/v1/admin/organizations/{orgId}/keys",
            new StringContent($"{{\"permissions\": {permissions}}}", System.Text.Encoding.UTF8, "application/json"));
        var body = await Json(res);
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(body));
        Assert.StartsWith(field, ErrorMessage(body));
        Assert.Contains(named, ErrorMessage(body));
        Assert.Equal(keysBefore, await KeysOf(orgId));
    }

    [Fact]
    public async Task Every_known_permission_star_and_an_empty_list_are_accepted_and_returned()
    {
        var (orgId, _) = await host.CreateOrganization();
        foreach (var permissions in new[] { Permissions.Names.ToArray(), [Permissions.All], [] })
        {
            var res = await host.Client(ApiHost.AdminKey).PostAsJsonAsync($"/v1/admin/organizations/{orgId}/keys", new { permissions });
            Assert.Equal(HttpStatusCode.Created, res.StatusCode);
            Assert.Equal(permissions, (await Json(res))["permissions"]!.AsArray().Select(p => p!.GetValue<string>()));
        }
    }

    [Fact]
    public async Task The_routes_that_carry_their_own_credential_are_reached_without_an_api_key()
    {
        var own = Routes().Where(r => RuleOf(r).Authorization == RouteAuthorization.OwnCredential).ToList();
        Assert.Contains(own, r => r.Pattern == "/v1/browsers/{id}/cdp");
        Assert.Contains(own, r => r.Pattern == "/v1/sandboxes/{id}/terminal/ws");
        Assert.Contains(own, r => r.Pattern == "/v1/artifacts/{key}/content");
        foreach (var route in own)
        {
            // No key at all: the route's own check answers (a bad token or link), never the API-key gate.
            var res = await host.Client().SendAsync(Request(route, SomePath(route) + "?token=nonsense&sig=nonsense"));
            var body = await Json(res);
            Assert.False(ErrorMessage(body)?.StartsWith("Missing API key", StringComparison.Ordinal) ?? false,
                $"{route} asked for an API key: {body.ToJsonString()}");
            Assert.False(await IsPermissionDenied(res), $"{route} was refused by the permission table: {body.ToJsonString()}");
        }
    }

    [Fact]
    public async Task A_v1_route_missing_from_the_table_is_refused_for_every_key_and_its_handler_never_runs()
    {
        var (_, key) = await host.CreateOrganization(); // an empty permission list: every permission
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseTestServer();
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton(host.Database.DataSource);
        builder.Services.AddSingleton<ApiKeys>();
        builder.Services.Configure<ApiOptions>(o => o.AdminKey = ApiHost.AdminKey);
        builder.AddKeyRateLimits();
        await using var app = builder.Build();
        app.UseApiAuthentication();
        var ran = 0;
        app.MapPost("/v1/unlisted/{id}", () => { Interlocked.Increment(ref ran); return Results.Ok(); });
        app.MapGet("/v1/browsers", () => Results.Ok(new { listed = true }));
        await app.StartAsync();
        using var http = app.GetTestClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);

        var refused = await http.PostAsync($"/v1/unlisted/{Guid.NewGuid()}", null);
        var body = await Json(refused);
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("PERMISSION_DENIED", ErrorCode(body));
        Assert.Contains("POST /v1/unlisted/{id}", ErrorMessage(body));
        Assert.Equal(0, ran);
        // The same key on a route in the table goes through this same pipeline.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/browsers")).StatusCode);
        await app.StopAsync();
    }

    private static async Task<Guid> CreateSandbox(HttpClient http)
    {
        var res = await http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "python" });
        Assert.Equal(HttpStatusCode.Accepted, res.StatusCode);
        return Guid.Parse((await Json(res))["id"]!.GetValue<string>());
    }

    private async Task<long> KeysOf(Guid orgId)
    {
        await using var cmd = host.Database.DataSource.CreateCommand("SELECT count(*) FROM api.api_keys WHERE organization_id = $1");
        cmd.Parameters.Add(new Npgsql.NpgsqlParameter { Value = orgId });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }
}
