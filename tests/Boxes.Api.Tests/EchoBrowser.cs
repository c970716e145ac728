using System.Net.WebSockets;
using Boxes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Boxes.Api.Tests;

/// <summary>
/// Stands in for a Chromium's DevTools socket: echoes every frame, and counts connections so a test can
/// prove that a refused client never reached it.
/// </summary>
public sealed class EchoBrowser : IAsyncDisposable
{
    private LoopbackServer _server = null!;
    private int _connections;

    private EchoBrowser() { }

    public int Connections => Volatile.Read(ref _connections);
    public string Endpoint => _server.Address.Replace("http://", "ws://") + "/devtools/browser/test";

    public static async Task<EchoBrowser> StartAsync()
    {
        var echo = new EchoBrowser();
        echo._server = await LoopbackServer.StartAsync(app => echo.Map(app));
        return echo;
    }

    private void Map(WebApplication app)
    {
        app.UseWebSockets();
        app.Map("/devtools/browser/test", async (HttpContext http) =>
        {
            if (!http.WebSockets.IsWebSocketRequest) return Results.BadRequest();
            Interlocked.Increment(ref _connections);
            using var ws = await http.WebSockets.AcceptWebSocketAsync();
            var buffer = new byte[1024 * 1024];
            while (true)
            {
                WebSocketReceiveResult r;
                try { r = await ws.ReceiveAsync(buffer, http.RequestAborted); }
                catch (Exception ex) when (ex is WebSocketException or OperationCanceledException) { break; }
                if (r.MessageType == WebSocketMessageType.Close) break;
                await ws.SendAsync(buffer.AsMemory(0, r.Count), r.MessageType, r.EndOfMessage, http.RequestAborted);
            }
            return Results.Empty;
        });
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
