using System.Net.WebSockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Boxes.Api.Tests;

/// <summary>
/// Stands in for a Chromium's DevTools socket: echoes every frame, and counts connections so a test can
/// prove that a refused client never reached it.
/// </summary>
public sealed class EchoBrowser : IAsyncDisposable
{
    private readonly WebApplication _app;
    private int _connections;

    private EchoBrowser(WebApplication app) => _app = app;

    public int Connections => Volatile.Read(ref _connections);
    public string Endpoint { get; private set; } = "";

    public static async Task<EchoBrowser> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var echo = new EchoBrowser(app);
        app.UseWebSockets();
        app.Map("/devtools/browser/test", async (HttpContext http) =>
        {
            if (!http.WebSockets.IsWebSocketRequest) return Results.BadRequest();
            Interlocked.Increment(ref echo._connections);
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
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        echo.Endpoint = address.Replace("http://", "ws://") + "/devtools/browser/test";
        return echo;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
