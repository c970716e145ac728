using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using Microsoft.AspNetCore.TestHost;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>The CDP proxy against a stand-in browser: what gets through, what is refused before it, and when it closes.</summary>
public sealed class CdpProxyTests(ApiHost host) : IClassFixture<ApiHost>, IAsyncLifetime
{
    private EchoBrowser _browser = null!;

    public async Task InitializeAsync() => _browser = await EchoBrowser.StartAsync();
    public async Task DisposeAsync() => await _browser.DisposeAsync();

    private async Task<(HttpClient Http, Guid BoxId, string CdpUrl)> ReadySession()
    {
        var (_, key) = await host.CreateOrganization();
        var http = host.Client(key);
        var created = JsonNode.Parse(await (await http.PostAsJsonAsync("/v1/browsers", new { weight = "light" })).Content.ReadAsStringAsync())!;
        var boxId = Guid.Parse(created["id"]!.GetValue<string>());
        await host.MakeReady(boxId, _browser.Endpoint);
        var session = JsonNode.Parse(await (await http.GetAsync($"/v1/browsers/{boxId}")).Content.ReadAsStringAsync())!;
        Assert.Equal("ready", session["status"]!.GetValue<string>());
        return (http, boxId, session["cdpUrl"]!.GetValue<string>());
    }

    private Task<WebSocket> Connect(string cdpUrl) =>
        host.Factory.Server.CreateWebSocketClient().ConnectAsync(new Uri(cdpUrl.Replace("ws://localhost", "http://localhost")), CancellationToken.None);

    private static string WithToken(string cdpUrl, string token) => cdpUrl[..(cdpUrl.IndexOf("token=", StringComparison.Ordinal) + 6)] + token;
    private static string TokenOf(string cdpUrl) => cdpUrl[(cdpUrl.IndexOf("token=", StringComparison.Ordinal) + 6)..];

    private static async Task<string?> Receive(WebSocket ws, TimeSpan within)
    {
        using var cts = new CancellationTokenSource(within);
        var buffer = new byte[64 * 1024];
        using var ms = new MemoryStream();
        while (true)
        {
            var r = await ws.ReceiveAsync(buffer, cts.Token);
            if (r.MessageType == WebSocketMessageType.Close) return null;
            ms.Write(buffer, 0, r.Count);
            if (r.EndOfMessage) return Encoding.UTF8.GetString(ms.ToArray());
        }
    }

    [Fact]
    public async Task A_valid_token_relays_frames_both_ways_and_the_url_never_carries_the_api_key()
    {
        var (http, _, cdpUrl) = await ReadySession();
        Assert.DoesNotContain(http.DefaultRequestHeaders.Authorization!.Parameter!, cdpUrl);
        using var ws = await Connect(cdpUrl);
        await ws.SendAsync(Encoding.UTF8.GetBytes("{\"id\":1,\"method\":\"Browser.getVersion\"}"), WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.Equal("{\"id\":1,\"method\":\"Browser.getVersion\"}", await Receive(ws, TimeSpan.FromSeconds(10)));

        // A frame larger than the proxy's buffer keeps its boundaries.
        var big = new string('x', 300_000);
        await ws.SendAsync(Encoding.UTF8.GetBytes(big), WebSocketMessageType.Text, true, CancellationToken.None);
        Assert.Equal(big, await Receive(ws, TimeSpan.FromSeconds(10)));
        Assert.Equal(1, _browser.Connections);
    }

    [Fact]
    public async Task Tampered_foreign_expired_and_missing_tokens_are_refused_before_reaching_the_browser()
    {
        var (_, _, urlA) = await ReadySession();
        var (_, _, urlB) = await ReadySession();
        var tokenA = TokenOf(urlA);
        var tampered = tokenA[..^3] + (tokenA[^3] == 'A' ? "BBB" : "AAA");
        foreach (var url in new[] { WithToken(urlA, tampered), WithToken(urlA, TokenOf(urlB)), WithToken(urlA, "garbage"), urlA[..urlA.IndexOf('?')] })
            await Assert.ThrowsAnyAsync<Exception>(() => Connect(url));

        host.Clock.Now = host.Clock.Now.AddHours(5); // past the session's 4 h and the token's grace minute
        try
        {
            await Assert.ThrowsAnyAsync<Exception>(() => Connect(urlA));
        }
        finally
        {
            host.Clock.Now = DateTimeOffset.UtcNow;
        }
        Assert.Equal(0, _browser.Connections);
    }

    [Fact]
    public async Task A_session_that_ends_closes_its_proxied_socket()
    {
        var (_, boxId, cdpUrl) = await ReadySession();
        using var ws = await Connect(cdpUrl);
        await host.Store.AppendAsync(Streams.ForBox(boxId), ExpectedVersion.Any,
            [StoredEvents.ToEventData(new BoxEnded(boxId, EndReasons.ClosedByOwner, DateTimeOffset.UtcNow), Guid.NewGuid())]);
        // The relay publishes BoxEnded; this API instance hears it and closes the socket.
        Assert.Null(await Receive(ws, TimeSpan.FromSeconds(20)));
        // And a new connection is refused: the session is no longer ready.
        await Assert.ThrowsAnyAsync<Exception>(() => Connect(cdpUrl));
    }
}
