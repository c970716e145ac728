using System.Buffers;
using System.Net.WebSockets;

namespace Boxes.Api.Proxy;

/// <summary>
/// Relays one client WebSocket to one upstream WebSocket on a worker, frame by frame both ways, keeping
/// message boundaries and types. Used by the CDP proxy and the sandbox terminal. Callers check everything
/// (token, box, organisation, state) and connect upstream BEFORE the client's upgrade is accepted, so a
/// refused client never gets a byte through and a dead worker answers 502 instead of an open-then-closed socket.
/// </summary>
public sealed class WebSocketRelay(ProxyRegistry registry, ILogger<WebSocketRelay> logger)
{
    private const int BufferSize = 64 * 1024;

    /// <summary>Connects to the worker's socket, or returns null when it does not accept within 10 s.</summary>
    public async Task<ClientWebSocket?> ConnectUpstreamAsync(Uri address, Action<ClientWebSocketOptions>? configure, CancellationToken ct)
    {
        var upstream = new ClientWebSocket();
        // The client keeps its own connection alive; pings from us would only add traffic to the worker.
        upstream.Options.KeepAliveInterval = TimeSpan.Zero;
        configure?.Invoke(upstream.Options);
        try
        {
            using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            connectTimeout.CancelAfter(TimeSpan.FromSeconds(10));
            await upstream.ConnectAsync(address, connectTimeout.Token);
            return upstream;
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or HttpRequestException)
        {
            logger.LogWarning("Upstream WebSocket {Address} did not accept the connection: {Error}", address.GetLeftPart(UriPartial.Path), ex.Message);
            upstream.Dispose();
            return null;
        }
    }

    /// <summary>
    /// Accepts the client's upgrade and relays until either side closes, the client goes away, or the box ends
    /// (<see cref="ProxyRegistry.CloseAll"/>). Disposes <paramref name="upstream"/>.
    /// </summary>
    public async Task RelayAsync(HttpContext http, Guid boxId, ClientWebSocket upstream, string what)
    {
        try
        {
            using var client = await http.WebSockets.AcceptWebSocketAsync();
            using var connection = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
            using var registration = registry.Register(boxId, connection);
            try
            {
                var toUpstream = Pump(client, upstream, connection.Token);
                var toClient = Pump(upstream, client, connection.Token);
                var first = await Task.WhenAny(toUpstream, toClient);
                if (first.IsCompletedSuccessfully)
                {
                    // One side closed cleanly and its close frame was passed on: let the other side answer it.
                    // Cancelling the other pump's receive now would abort that socket, and an abortive close can
                    // make the peer drop the last frames we sent it (a terminal's exit message, say).
                    await Swallow((first == toUpstream ? toClient : toUpstream).WaitAsync(TimeSpan.FromSeconds(5), connection.Token));
                }
                await connection.CancelAsync();
                await Task.WhenAll(Swallow(toUpstream), Swallow(toClient));
            }
            finally
            {
                // No registration left means CloseAll removed it: the box ended, and the client should know why.
                var ended = registry.Count(boxId) == 0 && !http.RequestAborted.IsCancellationRequested;
                await CloseQuietly(client, ended ? WebSocketCloseStatus.EndpointUnavailable : WebSocketCloseStatus.NormalClosure,
                    ended ? "session ended" : null);
                await CloseQuietly(upstream, WebSocketCloseStatus.NormalClosure, null);
                logger.LogDebug("{What} relay for box {BoxId} closed", what, boxId);
            }
        }
        finally
        {
            upstream.Dispose();
        }
    }

    /// <summary>Copies frames one way, keeping message boundaries and types; a close on one side closes the other.</summary>
    private static async Task Pump(WebSocket from, WebSocket to, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            while (true)
            {
                var result = await from.ReceiveAsync(buffer.AsMemory(), ct);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await CloseQuietly(to, from.CloseStatus ?? WebSocketCloseStatus.NormalClosure, from.CloseStatusDescription);
                    return;
                }
                await to.SendAsync(buffer.AsMemory(0, result.Count), result.MessageType, result.EndOfMessage, ct);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task Swallow(Task pump)
    {
        try { await pump; }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException or TimeoutException) { }
    }

    private static async Task CloseQuietly(WebSocket socket, WebSocketCloseStatus status, string? description)
    {
        if (socket.State is not (WebSocketState.Open or WebSocketState.CloseReceived)) return;
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.CloseOutputAsync(status, description, timeout.Token);
        }
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException) { }
    }
}
