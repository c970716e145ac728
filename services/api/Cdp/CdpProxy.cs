using System.Buffers;
using System.Collections.Concurrent;
using System.Net.WebSockets;
using Boxes.Api.Browsers;
using Boxes.Api.Errors;
using Boxes.Contracts;

namespace Boxes.Api.Cdp;

/// <summary>Open proxied CDP connections by box, so that a session's end closes them at once.</summary>
public sealed class ProxyRegistry
{
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<CancellationTokenSource, byte>> _open = new();

    public IDisposable Register(Guid boxId, CancellationTokenSource connection)
    {
        _open.GetOrAdd(boxId, _ => new()).TryAdd(connection, 0);
        return new Registration(this, boxId, connection);
    }

    /// <summary>Ends every proxied connection of the box.</summary>
    public int CloseAll(Guid boxId)
    {
        if (!_open.TryRemove(boxId, out var connections)) return 0;
        foreach (var c in connections.Keys)
        {
            try { c.Cancel(); } catch (ObjectDisposedException) { }
        }
        return connections.Count;
    }

    public int Count(Guid boxId) => _open.TryGetValue(boxId, out var c) ? c.Count : 0;

    private sealed class Registration(ProxyRegistry registry, Guid boxId, CancellationTokenSource connection) : IDisposable
    {
        public void Dispose()
        {
            if (registry._open.TryGetValue(boxId, out var set)) set.TryRemove(connection, out _);
        }
    }
}

/// <summary>
/// <c>GET /v1/browsers/{id}/cdp?token=...</c>: a WebSocket relayed frame by frame to the box's Chromium.
/// Everything is checked before the upgrade is accepted (token, box, state), so a refused client never
/// gets a byte through to the browser.
/// </summary>
public static class CdpProxy
{
    private const int BufferSize = 64 * 1024;

    public static IEndpointRouteBuilder MapCdpProxy(this IEndpointRouteBuilder app)
    {
        app.Map("/v1/browsers/{id}/cdp", async (string id, HttpContext http, SessionTokens tokens, BoxCatalog catalog, ProxyRegistry registry,
            ILoggerFactory loggers) =>
        {
            if (!Guid.TryParse(id, out var boxId)) return ApiError.NotFound($"Browser session {id}");
            var (verdict, organizationId) = tokens.Validate(http.Request.Query["token"].ToString(), boxId);
            if (verdict != SessionTokens.Verdict.Valid)
                return ApiError.Unauthenticated(verdict switch
                {
                    SessionTokens.Verdict.Expired => "The session token has expired; GET the session for a fresh cdpUrl.",
                    SessionTokens.Verdict.OtherBox => "The session token belongs to another session.",
                    _ => "A valid session token is required: use the cdpUrl the API returned, as it is.",
                });
            var view = await catalog.GetAsync(organizationId, BoxKinds.Browser, boxId, http.RequestAborted);
            if (view is null) return ApiError.NotFound($"Browser session {id}");
            if (view.Status != BoxStatuses.Ready || view.Endpoint is null)
                return ApiError.Conflict($"Browser session {id} is {view.Status}, not ready.");
            if (!http.WebSockets.IsWebSocketRequest) return ApiError.Validation("This route takes a WebSocket upgrade (a CDP client).");

            var upstream = new ClientWebSocket();
            upstream.Options.KeepAliveInterval = TimeSpan.Zero;
            try
            {
                using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
                connectTimeout.CancelAfter(TimeSpan.FromSeconds(10));
                await upstream.ConnectAsync(new Uri(view.Endpoint), connectTimeout.Token);
            }
            catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or HttpRequestException)
            {
                upstream.Dispose();
                return new ApiError(502, "UPSTREAM_UNAVAILABLE", $"The browser of session {id} did not accept the connection.");
            }

            using var client = await http.WebSockets.AcceptWebSocketAsync();
            using var connection = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
            using var registration = registry.Register(boxId, connection);
            var log = loggers.CreateLogger("Boxes.Api.CdpProxy");
            try
            {
                var toBrowser = Pump(client, upstream, connection.Token);
                var toClient = Pump(upstream, client, connection.Token);
                await Task.WhenAny(toBrowser, toClient);
                await connection.CancelAsync();
                await Task.WhenAll(Swallow(toBrowser), Swallow(toClient));
            }
            finally
            {
                var ended = registry.Count(boxId) == 0 && !http.RequestAborted.IsCancellationRequested;
                await CloseQuietly(client, ended ? WebSocketCloseStatus.EndpointUnavailable : WebSocketCloseStatus.NormalClosure,
                    ended ? "session ended" : null);
                await CloseQuietly(upstream, WebSocketCloseStatus.NormalClosure, null);
                upstream.Dispose();
                log.LogDebug("CDP proxy for box {BoxId} closed", boxId);
            }
            return Results.Empty;
        });
        return app;
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
        catch (Exception ex) when (ex is WebSocketException or OperationCanceledException or ObjectDisposedException) { }
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
