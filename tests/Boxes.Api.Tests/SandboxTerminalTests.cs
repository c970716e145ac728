using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Contracts;
using Boxes.Testing;
using Microsoft.AspNetCore.TestHost;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>The sandbox terminal: its token's scope, the relay to the worker's shell, and its end with the sandbox.</summary>
public sealed class SandboxTerminalTests(ApiHost host) : IClassFixture<ApiHost>, IAsyncLifetime
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
        host.Clock.Now = DateTimeOffset.UtcNow;
        Assert.Equal(0, _worker.RequestsWithoutKey);
        await _worker.DisposeAsync();
        await _browser.DisposeAsync();
    }

    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();

    private async Task<(HttpClient Http, Guid Id, string TerminalUrl, string Token)> ReadySandbox()
    {
        var (_, key) = await host.CreateOrganization();
        var http = host.Client(key);
        var id = Guid.Parse((await Json(await http.PostAsJsonAsync("/v1/sandboxes", new { })))["id"]!.GetValue<string>());
        var early = await http.GetAsync($"/v1/sandboxes/{id}/terminal");
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode); // ready only
        await host.MakeReady(id, _worker.EndpointFor(id));
        var terminal = await Json(await http.GetAsync($"/v1/sandboxes/{id}/terminal"));
        return (http, id, terminal["terminalUrl"]!.GetValue<string>(), terminal["token"]!.GetValue<string>());
    }

    private async Task<string> ReadyBrowserCdpUrl()
    {
        var (_, key) = await host.CreateOrganization();
        var http = host.Client(key);
        var id = Guid.Parse((await Json(await http.PostAsJsonAsync("/v1/browsers", new { })))["id"]!.GetValue<string>());
        await host.MakeReady(id, _browser.Endpoint);
        return (await Json(await http.GetAsync($"/v1/browsers/{id}")))["cdpUrl"]!.GetValue<string>();
    }

    private Task<WebSocket> Connect(string url) =>
        host.Factory.Server.CreateWebSocketClient().ConnectAsync(new Uri(url.Replace("ws://localhost", "http://localhost")), CancellationToken.None);

    private static string TokenOf(string url) => url[(url.IndexOf("token=", StringComparison.Ordinal) + 6)..].Split('&')[0];
    private static string WithToken(string url, string token) => url.Replace(TokenOf(url), token);

    private static async Task<(WebSocketMessageType Type, byte[] Data)?> Receive(WebSocket ws, TimeSpan within)
    {
        using var cts = new CancellationTokenSource(within);
        var buffer = new byte[64 * 1024];
        using var ms = new MemoryStream();
        while (true)
        {
            var r = await ws.ReceiveAsync(buffer, cts.Token);
            if (r.MessageType == WebSocketMessageType.Close) return null;
            ms.Write(buffer, 0, r.Count);
            if (r.EndOfMessage) return (r.MessageType, ms.ToArray());
        }
    }

    [Fact]
    public async Task The_terminal_url_is_a_websocket_on_the_api_with_a_token_and_never_the_api_key()
    {
        var (http, id, terminalUrl, token) = await ReadySandbox();
        Assert.StartsWith($"ws://localhost/v1/sandboxes/{id}/terminal/ws?token=", terminalUrl);
        Assert.Equal(token, TokenOf(terminalUrl));
        Assert.DoesNotContain(http.DefaultRequestHeaders.Authorization!.Parameter!, terminalUrl);
        Assert.Equal(terminalUrl, (await Json(await http.GetAsync($"/v1/sandboxes/{id}")))["terminalUrl"]!.GetValue<string>());
    }

    [Fact]
    public async Task The_terminal_relays_frames_both_ways_to_the_workers_shell()
    {
        var (_, _, terminalUrl, _) = await ReadySandbox();
        using var ws = await Connect(terminalUrl + "&cols=120&rows=40");
        var hello = await Receive(ws, TimeSpan.FromSeconds(10));
        var greeting = JsonNode.Parse(hello!.Value.Data)!;
        Assert.Equal("120", greeting["cols"]!.GetValue<string>()); // the client's size reached the worker
        Assert.Equal("40", greeting["rows"]!.GetValue<string>());

        var keystrokes = Encoding.UTF8.GetBytes("ls -la\r");
        await ws.SendAsync(keystrokes, WebSocketMessageType.Binary, true, CancellationToken.None);
        var echoed = await Receive(ws, TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketMessageType.Binary, echoed!.Value.Type);
        Assert.Equal(keystrokes, echoed.Value.Data);

        const string resize = "{\"type\":\"resize\",\"cols\":80,\"rows\":24}";
        await ws.SendAsync(Encoding.UTF8.GetBytes(resize), WebSocketMessageType.Text, true, CancellationToken.None);
        var control = await Receive(ws, TimeSpan.FromSeconds(10));
        Assert.Equal(WebSocketMessageType.Text, control!.Value.Type);
        Assert.Equal(resize, Encoding.UTF8.GetString(control.Value.Data));
        Assert.Equal(1, _worker.TerminalConnections);
    }

    [Fact]
    public async Task A_cdp_token_does_not_open_a_terminal_and_a_terminal_token_does_not_open_cdp()
    {
        var (_, id, terminalUrl, terminalToken) = await ReadySandbox();
        var cdpUrl = await ReadyBrowserCdpUrl();
        var cdpToken = TokenOf(cdpUrl);

        await Assert.ThrowsAnyAsync<Exception>(() => Connect(WithToken(terminalUrl, cdpToken)));
        await Assert.ThrowsAnyAsync<Exception>(() => Connect(WithToken(cdpUrl, terminalToken)));
        // Nor does either work on the other's box with the right scope but the wrong id.
        var (_, _, otherTerminalUrl, _) = await ReadySandbox();
        await Assert.ThrowsAnyAsync<Exception>(() => Connect(WithToken(otherTerminalUrl, terminalToken)));
        await Assert.ThrowsAnyAsync<Exception>(() => Connect(terminalUrl[..terminalUrl.IndexOf('?')]));
        await Assert.ThrowsAnyAsync<Exception>(() => Connect(terminalUrl + "&cols=0"));
        Assert.Equal(0, _worker.TerminalConnections);
        Assert.Equal(0, _browser.Connections);

        // The same refusals as plain HTTP, in the contract's error shape.
        var plain = host.Client();
        var refused = await plain.GetAsync(WithToken(terminalUrl, cdpToken).Replace("ws://", "http://"));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
        Assert.Equal("UNAUTHENTICATED", (await Json(refused))["error"]!["code"]!.GetValue<string>());
        var notAnUpgrade = await plain.GetAsync(terminalUrl.Replace("ws://", "http://"));
        Assert.Equal(HttpStatusCode.BadRequest, notAnUpgrade.StatusCode);

        // And the right token still works.
        using var ws = await Connect(terminalUrl);
        Assert.NotNull(await Receive(ws, TimeSpan.FromSeconds(10)));
        _ = id;
    }

    [Fact]
    public async Task An_expired_terminal_token_and_a_paused_sandbox_are_refused_before_reaching_the_worker()
    {
        var (http, id, terminalUrl, _) = await ReadySandbox();
        host.Clock.Now = host.Clock.Now.AddHours(5); // past the sandbox's 4 h and the token's grace minute
        try
        {
            await Assert.ThrowsAnyAsync<Exception>(() => Connect(terminalUrl));
        }
        finally
        {
            host.Clock.Now = DateTimeOffset.UtcNow;
        }
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"/v1/sandboxes/{id}/pause", null)).StatusCode);
        var paused = await host.Client().GetAsync(terminalUrl.Replace("ws://", "http://"));
        Assert.Equal(HttpStatusCode.Conflict, paused.StatusCode);
        Assert.Equal(0, _worker.TerminalConnections);
    }

    [Fact]
    public async Task A_sandbox_that_ends_closes_its_terminal()
    {
        var (_, id, terminalUrl, _) = await ReadySandbox();
        using var ws = await Connect(terminalUrl);
        Assert.NotNull(await Receive(ws, TimeSpan.FromSeconds(10))); // the hello: the relay is up
        await host.Append(id, new BoxEnded(id, EndReasons.ClosedByOwner, DateTimeOffset.UtcNow));
        // The relay publishes BoxEnded; this API instance hears it and closes the socket.
        Assert.Null(await Receive(ws, TimeSpan.FromSeconds(20)));
        await Assert.ThrowsAnyAsync<Exception>(() => Connect(terminalUrl));
        await Eventually.Until(() => ws.State is WebSocketState.Closed or WebSocketState.CloseReceived, TimeSpan.FromSeconds(5), "the socket to close");
    }
}
