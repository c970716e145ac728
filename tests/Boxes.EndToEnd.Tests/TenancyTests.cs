using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text.Json.Nodes;
using Boxes.Testing;
using Xunit;

namespace Boxes.EndToEnd.Tests;

/// <summary>
/// Keys and tenancy on the running platform: a key's permissions, revocation at once, and another organisation's key
/// against real boxes (a sandbox's exec and terminal, a browser's CDP socket opened with another box's token).
/// Each test makes organisations of its own and closes what it started.
/// </summary>
public sealed class TenancyTests
{
    private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(30);
    private readonly Platform _platform = new();

    private async Task<(string Id, string ApiKey)> CreateKeyAsync(string organizationId, params string[] permissions)
    {
        using var admin = _platform.Client(_platform.AdminKey);
        var res = await admin.PostAsJsonAsync($"/v1/admin/organizations/{organizationId}/keys", new { permissions });
        var body = await Platform.ReadJson(res);
        Assert.True(res.StatusCode == HttpStatusCode.Created, $"creating a key answered {(int)res.StatusCode}: {body.ToJsonString()}");
        return (body["id"]!.GetValue<string>(), body["apiKey"]!.GetValue<string>());
    }

    private static async Task<string> Create(HttpClient http, string kind, object config)
    {
        var res = await http.PostAsJsonAsync($"/v1/{kind}", config);
        var body = await Platform.ReadJson(res);
        Assert.True(res.StatusCode == HttpStatusCode.Accepted, $"POST /v1/{kind} answered {(int)res.StatusCode}: {body.ToJsonString()}");
        return body["id"]!.GetValue<string>();
    }

    private static async Task Close(HttpClient http, string kind, string id)
    {
        await http.DeleteAsync($"/v1/{kind}/{id}");
        await Platform.WaitForStatus(http, kind, id, s => s is "ended" or "failed", ReadyWithin);
    }

    private static async Task AssertError(HttpResponseMessage res, HttpStatusCode status, string code, string? mentions = null)
    {
        var body = await Platform.ReadJson(res);
        Assert.True(res.StatusCode == status, $"{res.RequestMessage?.Method} {res.RequestMessage?.RequestUri} answered {(int)res.StatusCode}: {body.ToJsonString()}");
        Assert.Equal(code, body["error"]!["code"]!.GetValue<string>());
        if (mentions is not null) Assert.Contains(mentions, body["error"]!["message"]!.GetValue<string>());
    }

    /// <summary>Opens a WebSocket as any client would and returns the HTTP status it was refused with (101 if it opened).</summary>
    private static async Task<HttpStatusCode> UpgradeStatus(string url)
    {
        using var ws = new ClientWebSocket();
        ws.Options.CollectHttpResponseDetails = true;
        try
        {
            await ws.ConnectAsync(new Uri(url), CancellationToken.None);
        }
        catch (WebSocketException)
        {
            return ws.HttpStatusCode;
        }
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, null, CancellationToken.None);
        return HttpStatusCode.SwitchingProtocols;
    }

    private static string TokenOf(string url) => url[(url.IndexOf("token=", StringComparison.Ordinal) + 6)..].Split('&')[0];

    [Fact]
    public async Task A_key_with_only_browsers_read_lists_browsers_but_cannot_create_a_sandbox()
    {
        var (orgId, _) = await _platform.CreateOrganizationAsync();
        var (_, key) = await CreateKeyAsync(orgId, "browsers:read");
        using var http = _platform.Client(key);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/browsers")).StatusCode);
        await AssertError(await http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "base" }), HttpStatusCode.Forbidden, "PERMISSION_DENIED", "sandboxes:write");
        await AssertError(await http.PostAsJsonAsync("/v1/browsers", new { weight = "light" }), HttpStatusCode.Forbidden, "PERMISSION_DENIED", "browsers:write");
        // Nothing was created behind the refusals.
        using var all = _platform.Client((await CreateKeyAsync(orgId)).ApiKey);
        Assert.Empty((await Platform.ReadJson(await all.GetAsync("/v1/sandboxes")))["items"]!.AsArray());
        Assert.Empty((await Platform.ReadJson(await all.GetAsync("/v1/browsers")))["items"]!.AsArray());
    }

    [Fact]
    public async Task A_revoked_key_is_refused_at_once()
    {
        var (orgId, _) = await _platform.CreateOrganizationAsync();
        var (keyId, key) = await CreateKeyAsync(orgId);
        using var http = _platform.Client(key);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/sandboxes")).StatusCode);
        using var admin = _platform.Client(_platform.AdminKey);
        Assert.Equal(HttpStatusCode.OK, (await admin.DeleteAsync($"/v1/admin/keys/{keyId}")).StatusCode);
        await AssertError(await http.GetAsync("/v1/sandboxes"), HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
        await AssertError(await http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "base" }), HttpStatusCode.Unauthorized, "UNAUTHENTICATED");
    }

    [Fact]
    public async Task Another_organisations_key_gets_404_on_a_real_sandbox_and_no_socket_opens_with_another_boxs_token()
    {
        using var a = _platform.Client((await _platform.CreateOrganizationAsync()).ApiKey);
        using var b = _platform.Client((await _platform.CreateOrganizationAsync()).ApiKey);
        var started = new List<(HttpClient Http, string Kind, string Id)>();
        try
        {
            var sandboxA = await Create(a, "sandboxes", new { runtime = "base" });
            started.Add((a, "sandboxes", sandboxA));
            var sandboxB = await Create(b, "sandboxes", new { runtime = "base" });
            started.Add((b, "sandboxes", sandboxB));
            var browserA = await Create(a, "browsers", new { weight = "light" });
            started.Add((a, "browsers", browserA));
            var browserB = await Create(b, "browsers", new { weight = "light" });
            started.Add((b, "browsers", browserB));
            var exec = await a.PostAsJsonAsync($"/v1/sandboxes/{sandboxA}/exec", new { command = "echo a > mine.txt" });
            Assert.Equal(HttpStatusCode.OK, exec.StatusCode);
            Assert.Equal(HttpStatusCode.OK, (await b.PostAsJsonAsync($"/v1/sandboxes/{sandboxB}/exec", new { command = "true" })).StatusCode); // B's sandbox is ready

            // B's key on A's sandbox: as unknown as an id that does not exist, and nothing runs.
            await AssertError(await b.PostAsJsonAsync($"/v1/sandboxes/{sandboxA}/exec", new { command = "echo b > mine.txt" }), HttpStatusCode.NotFound, "NOT_FOUND");
            await AssertError(await b.GetAsync($"/v1/sandboxes/{sandboxA}/terminal"), HttpStatusCode.NotFound, "NOT_FOUND");
            await AssertError(await b.GetAsync($"/v1/sandboxes/{sandboxA}"), HttpStatusCode.NotFound, "NOT_FOUND");
            await AssertError(await b.PostAsJsonAsync($"/v1/sandboxes/{Guid.NewGuid()}/exec", new { command = "true" }), HttpStatusCode.NotFound, "NOT_FOUND");

            // B's own terminal token, on A's sandbox's terminal socket: refused before the upgrade.
            var terminalA = (await Platform.ReadJson(await a.GetAsync($"/v1/sandboxes/{sandboxA}/terminal")))["terminalUrl"]!.GetValue<string>();
            var terminalB = (await Platform.ReadJson(await b.GetAsync($"/v1/sandboxes/{sandboxB}/terminal")))["terminalUrl"]!.GetValue<string>();
            Assert.Equal(HttpStatusCode.Unauthorized, await UpgradeStatus(terminalA.Replace(TokenOf(terminalA), TokenOf(terminalB))));

            // A browser's CDP socket with another box's token (B's session): refused; A's own cdpUrl opens and drives it.
            var readyA = await Platform.WaitForStatus(a, "browsers", browserA, s => s is "ready" or "failed", ReadyWithin);
            var readyB = await Platform.WaitForStatus(b, "browsers", browserB, s => s is "ready" or "failed", ReadyWithin);
            Assert.Equal("ready", Platform.Status(readyA));
            Assert.Equal("ready", Platform.Status(readyB));
            var cdpA = readyA["cdpUrl"]!.GetValue<string>();
            var cdpB = readyB["cdpUrl"]!.GetValue<string>();
            Assert.Equal(HttpStatusCode.Unauthorized, await UpgradeStatus(cdpA.Replace(TokenOf(cdpA), TokenOf(cdpB))));
            await AssertError(await b.GetAsync($"/v1/browsers/{browserA}"), HttpStatusCode.NotFound, "NOT_FOUND");
            await using (var cdp = await CdpClient.ConnectAsync(cdpA))
                Assert.NotNull((await cdp.SendAsync("Browser.getVersion"))["product"]);

            // A's sandbox is as A left it.
            var read = await a.PostAsJsonAsync($"/v1/sandboxes/{sandboxA}/exec", new { command = "cat mine.txt" });
            Assert.Equal("a\n", (await Platform.ReadJson(read))["stdout"]!.GetValue<string>());
            Assert.Equal("ready", Platform.Status(await Platform.ReadJson(await a.GetAsync($"/v1/sandboxes/{sandboxA}"))));
        }
        finally
        {
            await Task.WhenAll(started.Select(s => Close(s.Http, s.Kind, s.Id)));
        }
    }
}
