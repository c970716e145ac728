using System.Text.Json;
using System.Text.Json.Nodes;

namespace Boxes.Testing;

/// <summary>A minimal CDP client over a raw WebSocket, as any CDP library would speak it.</summary>
public sealed class CdpClient : IAsyncDisposable
{
    private readonly System.Net.WebSockets.ClientWebSocket _ws = new();
    private int _nextId;

    public System.Net.WebSockets.WebSocketState State => _ws.State;

    public static async Task<CdpClient> ConnectAsync(string url, CancellationToken ct = default)
    {
        var c = new CdpClient();
        await c._ws.ConnectAsync(new Uri(url), ct);
        return c;
    }

    /// <summary>Sends a command and returns its result, skipping events that arrive in between.</summary>
    public async Task<JsonObject> SendAsync(string method, object? parameters = null, string? sessionId = null, CancellationToken ct = default)
    {
        var id = Interlocked.Increment(ref _nextId);
        var msg = new JsonObject { ["id"] = id, ["method"] = method, ["params"] = JsonSerializer.SerializeToNode(parameters ?? new { }) };
        if (sessionId is not null) msg["sessionId"] = sessionId;
        await _ws.SendAsync(System.Text.Encoding.UTF8.GetBytes(msg.ToJsonString()), System.Net.WebSockets.WebSocketMessageType.Text, true, ct);
        while (true)
        {
            var reply = await ReceiveAsync(ct) ?? throw new IOException("CDP socket closed while waiting for a reply");
            if (reply["id"]?.GetValue<int>() != id) continue;
            if (reply["error"] is { } error) throw new InvalidOperationException($"CDP {method} failed: {error.ToJsonString()}");
            return reply["result"]!.AsObject();
        }
    }

    /// <summary>The next message, or null when the server closed the socket.</summary>
    public async Task<JsonObject?> ReceiveAsync(CancellationToken ct = default)
    {
        var buffer = new byte[64 * 1024];
        using var ms = new MemoryStream();
        while (true)
        {
            System.Net.WebSockets.WebSocketReceiveResult r;
            try { r = await _ws.ReceiveAsync(buffer, ct); }
            catch (System.Net.WebSockets.WebSocketException) { return null; }
            if (r.MessageType == System.Net.WebSockets.WebSocketMessageType.Close) return null;
            ms.Write(buffer, 0, r.Count);
            if (r.EndOfMessage) return JsonNode.Parse(ms.ToArray())!.AsObject();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_ws.State == System.Net.WebSockets.WebSocketState.Open)
        {
            try { await _ws.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, CancellationToken.None); }
            catch (System.Net.WebSockets.WebSocketException) { }
        }
        _ws.Dispose();
    }
}
