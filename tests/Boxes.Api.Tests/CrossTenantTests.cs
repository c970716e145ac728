using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Api.Artifacts;
using Boxes.Api.Auth;
using Boxes.Contracts;
using Boxes.EventStore;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static Boxes.Api.Tests.TenancyHelpers;

namespace Boxes.Api.Tests;

/// <summary>
/// Invariant 4, route by route: for every /v1 route that takes an id (read from the app's EndpointDataSource, so a new
/// route fails here until it has a case), organisation B's key on organisation A's browser, sandbox, artifact, webhook
/// or delivery gets exactly what it gets for an id that does not exist (404; 501 for the routes not built yet), and
/// nothing changes: no event on A's streams, nothing reaches the worker, the artifacts store or A's webhooks in the
/// webhooks service. The sockets and the signed link are tried with B's own credentials and with ones signed for B's
/// organisation but naming A's box: the upgrade is refused and no byte reaches A's browser or shell.
/// </summary>
public sealed class CrossTenantTests(ApiHost host) : IClassFixture<ApiHost>, IAsyncLifetime
{
    private FakeWorker _worker = null!;
    private EchoBrowser _browser = null!;

    public async Task InitializeAsync()
    {
        _worker = await FakeWorker.StartAsync(host);
        _browser = await EchoBrowser.StartAsync();
    }

    public async Task DisposeAsync()
    {
        Assert.Equal(0, _worker.RequestsWithoutKey);
        await _worker.DisposeAsync();
        await _browser.DisposeAsync();
    }

    /// <summary>How B calls an id route over plain HTTP: the query and body that get it past input checks to the lookup.</summary>
    private sealed record HttpCase(string Query = "", object? Json = null, byte[]? Bytes = null, HttpStatusCode Expected = HttpStatusCode.NotFound);

    private static readonly HttpCase NotBuilt = new(Expected: HttpStatusCode.NotImplemented);

    private static readonly Dictionary<(string Method, string Pattern), HttpCase> HttpCases = new()
    {
        [("GET", "/v1/browsers/{id}")] = new(),
        [("DELETE", "/v1/browsers/{id}")] = new(),
        [("GET", "/v1/sandboxes/{id}")] = new(),
        [("DELETE", "/v1/sandboxes/{id}")] = new(),
        [("POST", "/v1/sandboxes/{id}/exec")] = new(Json: new { command = "cat", args = new[] { "secret.txt" } }),
        [("POST", "/v1/sandboxes/{id}/run-code")] = new(Json: new { code = "print(open('secret.txt').read())" }),
        [("GET", "/v1/sandboxes/{id}/fs/read")] = new("?path=secret.txt"),
        [("PUT", "/v1/sandboxes/{id}/fs/write")] = new("?path=planted.txt", Bytes: "planted by B"u8.ToArray()),
        [("GET", "/v1/sandboxes/{id}/fs/list")] = new("?path=/workspace"),
        [("POST", "/v1/sandboxes/{id}/pause")] = new(),
        [("POST", "/v1/sandboxes/{id}/resume")] = new(),
        [("POST", "/v1/sandboxes/{id}/checkpoint")] = new(),
        [("GET", "/v1/sandboxes/{id}/artifacts")] = new(),
        [("GET", "/v1/sandboxes/{id}/artifacts/{key}/download-url")] = new(),
        [("GET", "/v1/sandboxes/{id}/terminal")] = new(),
        // Not built yet: 501 whatever the id, so they reveal nothing either (the same answer as for an id that does not exist).
        [("*", "/v1/sandboxes/{id}/preview/{**rest}")] = NotBuilt,
        [("*", "/v1/sandboxes/{id}/handoff/{**rest}")] = NotBuilt,
        [("*", "/v1/sandboxes/{id}/control/{**rest}")] = NotBuilt,
        [("*", "/v1/sandboxes/{id}/opencode/{**rest}")] = NotBuilt,
        [("*", "/v1/sandboxes/{id}/prompt/{**rest}")] = NotBuilt,
        [("GET", "/v1/webhooks/{id}")] = new(),
        [("DELETE", "/v1/webhooks/{id}")] = new(),
        [("POST", "/v1/webhooks/{id}/test")] = new(),
        [("POST", "/v1/webhooks/{id}/rotate-secret")] = new(),
        [("POST", "/v1/webhooks/{id}/enable")] = new(),
        [("GET", "/v1/webhooks/{id}/deliveries")] = new("?limit=10"),
        [("POST", "/v1/webhooks/{id}/deliveries/{deliveryId}/replay")] = new(),
    };

    /// <summary>The id routes a client reaches with a credential the API handed out instead of a key: each has its own test below.</summary>
    private static readonly HashSet<(string Method, string Pattern)> CredentialCases =
    [
        ("*", "/v1/browsers/{id}/cdp"),
        ("*", "/v1/sandboxes/{id}/terminal/ws"),
        ("GET", "/v1/artifacts/{key}/content"),
    ];

    private sealed record Tenant(Guid OrgId, HttpClient Http, Guid Browser, Guid Sandbox, Guid Artifact, Guid Webhook, Guid Delivery,
        string CdpUrl, string TerminalUrl, string DownloadUrl);

    /// <summary>An organisation with one of everything an id can name: a ready browser and sandbox, a checkpoint, a webhook with a delivery.</summary>
    private async Task<Tenant> TenantWithEverything()
    {
        var (orgId, key) = await host.CreateOrganization();
        var http = host.Client(key);
        var browser = Guid.Parse((await Json(await http.PostAsJsonAsync("/v1/browsers", new { weight = "light" })))["id"]!.GetValue<string>());
        await host.MakeReady(browser, _browser.Endpoint);
        var sandbox = Guid.Parse((await Json(await http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "python" })))["id"]!.GetValue<string>());
        await host.MakeReady(sandbox, _worker.EndpointFor(sandbox));
        Assert.Equal(HttpStatusCode.OK, (await http.PutAsync($"/v1/sandboxes/{sandbox}/fs/write?path=secret.txt", new ByteArrayContent("A's secret"u8.ToArray()))).StatusCode);
        var checkpoint = await http.PostAsync($"/v1/sandboxes/{sandbox}/checkpoint", null);
        Assert.Equal(HttpStatusCode.OK, checkpoint.StatusCode);
        var artifact = Guid.Parse((await Json(checkpoint))["key"]!.GetValue<string>());
        var download = (await Json(await http.GetAsync($"/v1/sandboxes/{sandbox}/artifacts/{artifact}/download-url")))["url"]!.GetValue<string>();
        var webhook = await http.PostAsJsonAsync("/v1/webhooks", new { url = "https://hooks.example.com/boxes", eventTypes = new[] { "sandbox.ready" } });
        Assert.Equal(HttpStatusCode.Created, webhook.StatusCode);
        var webhookId = Guid.Parse((await Json(webhook))["id"]!.GetValue<string>());
        var delivery = Guid.Parse((await Json(await http.PostAsync($"/v1/webhooks/{webhookId}/test", null)))["deliveryId"]!.GetValue<string>());
        var cdpUrl = (await Json(await http.GetAsync($"/v1/browsers/{browser}")))["cdpUrl"]!.GetValue<string>();
        var terminalUrl = (await Json(await http.GetAsync($"/v1/sandboxes/{sandbox}/terminal")))["terminalUrl"]!.GetValue<string>();
        return new Tenant(orgId, http, browser, sandbox, artifact, webhookId, delivery, cdpUrl, terminalUrl, download);
    }

    /// <summary>What A's things look like from outside and in the stores, to compare before and after B's attempts.</summary>
    private async Task<string> Snapshot(Tenant a)
    {
        var browserEvents = (await host.Store.ReadStreamAsync(Streams.ForBox(a.Browser))).Count;
        var sandboxEvents = (await host.Store.ReadStreamAsync(Streams.ForBox(a.Sandbox))).Count;
        var browser = await Json(await a.Http.GetAsync($"/v1/browsers/{a.Browser}"));
        var sandbox = await Json(await a.Http.GetAsync($"/v1/sandboxes/{a.Sandbox}"));
        var webhook = await Json(await a.Http.GetAsync($"/v1/webhooks/{a.Webhook}"));
        var deliveries = (await Json(await a.Http.GetAsync($"/v1/webhooks/{a.Webhook}/deliveries")))["items"]!.AsArray().Count;
        var files = (await Json(await a.Http.GetAsync($"/v1/sandboxes/{a.Sandbox}/fs/list?path=/workspace")))["entries"]!.ToJsonString();
        return $"events: browser {browserEvents}, sandbox {sandboxEvents}; browser {browser["status"]}; sandbox {sandbox["status"]} " +
               $"artifacts {sandbox["artifacts"]?.ToJsonString()}; webhook {webhook["status"]} {webhook["id"]}; deliveries {deliveries}; files {files}";
    }

    private int RequestsNaming(Guid organizationId) =>
        host.Webhooks.Requests.Count(r => r.Path.Contains(organizationId.ToString(), StringComparison.OrdinalIgnoreCase));

    private Task<WebSocket> Connect(string url) =>
        host.Factory.Server.CreateWebSocketClient().ConnectAsync(new Uri(url.Replace("ws://localhost", "http://localhost")), CancellationToken.None);

    /// <summary>Asserts the upgrade is refused with this status (TestServer's client reports it as an incomplete handshake).</summary>
    private async Task RefusedUpgrade(string url, HttpStatusCode status)
    {
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => Connect(url));
        Assert.Equal($"Incomplete handshake, status code: {(int)status}", refused.Message);
    }

    private static string TokenOf(string url) => url[(url.IndexOf("token=", StringComparison.Ordinal) + 6)..].Split('&')[0];
    private static string Retarget(string url, Guid from, Guid to) => url.Replace(from.ToString(), to.ToString());

    [Fact]
    public async Task Every_id_route_answers_another_organisations_key_as_if_the_id_did_not_exist_and_changes_nothing()
    {
        var a = await TenantWithEverything();
        var b = await TenantWithEverything();

        var idRoutes = V1Routes(host.Factory.Services)
            .Where(r => r.Parameters.Count > 0 && !r.Pattern.StartsWith("/v1/admin/", StringComparison.Ordinal)).ToList();
        var uncovered = idRoutes.Where(r => !HttpCases.ContainsKey((r.Method, r.Pattern)) && !CredentialCases.Contains((r.Method, r.Pattern))).ToList();
        Assert.True(uncovered.Count == 0, "These routes take an id but have no cross-tenant case; add one to CrossTenantTests.HttpCases " +
                                          "(or a test of their own, as for the sockets):\n" + string.Join('\n', uncovered.Select(r => $"    {r}")));
        var stale = HttpCases.Keys.Concat(CredentialCases).Where(k => !idRoutes.Any(r => (r.Method, r.Pattern) == k)).ToList();
        Assert.True(stale.Count == 0, "Cases for routes the app no longer maps: " + string.Join(", ", stale));

        var before = await Snapshot(a);
        var events = await host.CountEvents();
        var workerRequests = _worker.Requests.Count;
        var artifactRequests = host.Artifacts.Requests;
        var webhookRequestsForA = RequestsNaming(a.OrgId);

        foreach (var route in idRoutes.Where(r => HttpCases.ContainsKey((r.Method, r.Pattern))))
        {
            var test = HttpCases[(route.Method, route.Pattern)];
            string IdOfA(string name) => (route.Pattern.Split('/')[2], name) switch
            {
                (_, "rest") => "anything",
                ("browsers", "id") => a.Browser.ToString(),
                ("sandboxes", "id") => a.Sandbox.ToString(),
                ("sandboxes", "key") => a.Artifact.ToString(),
                ("webhooks", "id") => a.Webhook.ToString(),
                ("webhooks", "deliveryId") => a.Delivery.ToString(),
                _ => throw new InvalidOperationException($"{route}: which of A's ids does {{{name}}} name? Say so in IdOfA."),
            };
            var onA = await b.Http.SendAsync(Build(route, route.Path(IdOfA) + test.Query, test));
            var onNothing = await b.Http.SendAsync(Build(route, route.Path(n => n == "rest" ? "anything" : Guid.NewGuid().ToString()) + test.Query, test));
            var (bodyA, bodyNothing) = (await Json(onA), await Json(onNothing));
            Assert.True(onA.StatusCode == test.Expected, $"{route} by another organisation answered {StatusOf(onA)}: {bodyA.ToJsonString()}");
            Assert.True(onA.StatusCode == onNothing.StatusCode && ErrorCode(bodyA) == ErrorCode(bodyNothing),
                $"{route}: A's id answered {StatusOf(onA)} {ErrorCode(bodyA)} but a missing id {StatusOf(onNothing)} {ErrorCode(bodyNothing)}: that tells them apart");
            Assert.DoesNotContain("A's secret", bodyA.ToJsonString());
        }

        Assert.Equal(events, await host.CountEvents());
        Assert.Equal(workerRequests, _worker.Requests.Count);
        Assert.Equal(artifactRequests, host.Artifacts.Requests);
        Assert.Equal(webhookRequestsForA, RequestsNaming(a.OrgId));
        Assert.Equal(before, await Snapshot(a));
        // And A still uses everything B was refused.
        Assert.Equal(HttpStatusCode.OK, (await a.Http.PostAsJsonAsync($"/v1/sandboxes/{a.Sandbox}/exec", new { command = "true" })).StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, (await a.Http.PostAsync($"/v1/webhooks/{a.Webhook}/deliveries/{a.Delivery}/replay", null)).StatusCode);
    }

    private static HttpRequestMessage Build(MappedRoute route, string path, HttpCase test)
    {
        var request = new HttpRequestMessage(SendMethod(route), path);
        if (test.Json is not null) request.Content = JsonContent.Create(test.Json);
        else if (test.Bytes is not null) request.Content = new ByteArrayContent(test.Bytes);
        else if (request.Method == HttpMethod.Post || request.Method == HttpMethod.Put) request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
        return request;
    }

    [Fact]
    public async Task Another_organisations_cdp_token_opens_nothing_of_A_and_no_byte_reaches_As_browser()
    {
        var a = await TenantWithEverything();
        var b = await TenantWithEverything();
        var tokens = host.Factory.Services.GetRequiredService<SessionTokens>();
        // B's own token on A's session, and a token properly signed for B's organisation that names A's session.
        var withBsToken = Retarget(b.CdpUrl, b.Browser, a.Browser);
        var signedForB = a.CdpUrl.Replace(TokenOf(a.CdpUrl), tokens.Issue(TokenScopes.Cdp, a.Browser, b.OrgId, DateTimeOffset.UtcNow.AddHours(1)));
        var events = await host.CountEvents();

        await RefusedUpgrade(withBsToken, HttpStatusCode.Unauthorized);
        await RefusedUpgrade(signedForB, HttpStatusCode.NotFound);
        var plain = await host.Client().GetAsync(signedForB.Replace("ws://", "http://"));
        Assert.Equal(HttpStatusCode.NotFound, plain.StatusCode);
        Assert.Equal("NOT_FOUND", ErrorCode(await Json(plain)));
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client().GetAsync(withBsToken.Replace("ws://", "http://"))).StatusCode);
        Assert.Equal(0, _browser.Connections);
        Assert.Equal(events, await host.CountEvents());

        // A's own cdpUrl still opens A's browser.
        using var ws = await Connect(a.CdpUrl);
        Assert.Equal(1, _browser.Connections);
    }

    [Fact]
    public async Task Another_organisations_terminal_token_opens_no_shell_of_A()
    {
        var a = await TenantWithEverything();
        var b = await TenantWithEverything();
        var tokens = host.Factory.Services.GetRequiredService<SessionTokens>();
        var withBsToken = Retarget(b.TerminalUrl, b.Sandbox, a.Sandbox);
        var signedForB = a.TerminalUrl.Replace(TokenOf(a.TerminalUrl), tokens.Issue(TokenScopes.Terminal, a.Sandbox, b.OrgId, DateTimeOffset.UtcNow.AddHours(1)));
        var workerRequests = _worker.Requests.Count;

        await RefusedUpgrade(withBsToken, HttpStatusCode.Unauthorized);
        await RefusedUpgrade(withBsToken + "&cols=80&rows=24", HttpStatusCode.Unauthorized);
        await RefusedUpgrade(signedForB, HttpStatusCode.NotFound);
        var plain = await host.Client().GetAsync(signedForB.Replace("ws://", "http://"));
        Assert.Equal(HttpStatusCode.NotFound, plain.StatusCode);
        Assert.Equal("NOT_FOUND", ErrorCode(await Json(plain)));
        Assert.Equal(0, _worker.TerminalConnections);
        Assert.Equal(workerRequests, _worker.Requests.Count);

        using var ws = await Connect(a.TerminalUrl);
        Assert.Equal(1, _worker.TerminalConnections);
    }

    [Fact]
    public async Task Another_organisations_download_link_never_serves_As_artifact()
    {
        var a = await TenantWithEverything();
        var b = await TenantWithEverything();
        var links = host.Factory.Services.GetRequiredService<ArtifactLinks>();
        var (signedForB, _) = links.Create(a.Artifact, b.OrgId); // a valid signature, for B's organisation, naming A's artifact
        var http = host.Client();
        foreach (var (url, expected) in new[] { (Retarget(b.DownloadUrl, b.Artifact, a.Artifact), HttpStatusCode.Unauthorized), (signedForB, HttpStatusCode.NotFound) })
        {
            var res = await http.GetAsync(url.Replace("http://localhost", ""));
            var body = await res.Content.ReadAsStringAsync();
            Assert.True(res.StatusCode == expected, $"{url} answered {StatusOf(res)}: {body}");
            Assert.DoesNotContain("workspace of", body);
            Assert.False(res.Content.Headers.ContentDisposition?.DispositionType == "attachment");
        }
        // A's own link serves it.
        var own = await http.GetAsync(a.DownloadUrl.Replace("http://localhost", ""));
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        Assert.StartsWith("workspace of", await own.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Lists_show_only_the_callers_own_boxes_and_webhooks()
    {
        var a = await TenantWithEverything();
        var b = await TenantWithEverything();
        foreach (var (route, own, foreign) in new[] { ("/v1/browsers", b.Browser, a.Browser), ("/v1/sandboxes", b.Sandbox, a.Sandbox), ("/v1/webhooks", b.Webhook, a.Webhook) })
        {
            var items = (await Json(await b.Http.GetAsync(route)))["items"]!.AsArray().Select(i => Guid.Parse(i!["id"]!.GetValue<string>())).ToList();
            Assert.Contains(own, items);
            Assert.DoesNotContain(foreign, items);
        }
    }
}
