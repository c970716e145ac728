using System.Globalization;
using Boxes.Api.Auth;
using Boxes.Api.Errors;
using Boxes.Api.Lifecycle;
using Boxes.Api.Proxy;
using Boxes.Contracts;
using Boxes.ServiceDefaults;

namespace Boxes.Api.Sandboxes;

/// <summary>
/// <c>GET /v1/sandboxes/{id}/terminal/ws?token=...&amp;cols=&amp;rows=</c>: the sandbox's interactive shell, relayed
/// frame by frame to the worker's terminal socket. The terminal token (scope <see cref="TokenScopes.Terminal"/>),
/// the box, its organisation and its state are all checked before the upgrade is accepted, so a plain
/// <c>new WebSocket(terminalUrl)</c> either gets a shell or a refusal, never a socket to nowhere.
/// </summary>
public static class TerminalProxy
{
    private const int MaxDimension = 1000;

    public static IEndpointRouteBuilder MapTerminalProxy(this IEndpointRouteBuilder app)
    {
        app.Map("/v1/sandboxes/{id}/terminal/ws", async (string id, HttpContext http, SessionTokens tokens, BoxCatalog catalog, WebSocketRelay relay,
            IConfiguration configuration) =>
        {
            if (!Guid.TryParse(id, out var boxId)) return ApiError.NotFound($"Sandbox {id}");
            var (verdict, organizationId) = tokens.Validate(http.Request.Query["token"].ToString(), TokenScopes.Terminal, boxId);
            if (verdict != SessionTokens.Verdict.Valid)
                return ApiError.Unauthenticated(verdict switch
                {
                    SessionTokens.Verdict.Expired => "The terminal token has expired; GET /v1/sandboxes/{id}/terminal for a fresh terminalUrl.",
                    SessionTokens.Verdict.OtherBox => "The terminal token belongs to another sandbox.",
                    SessionTokens.Verdict.OtherScope => "This token does not open a terminal: use the terminalUrl the API returned, as it is.",
                    _ => "A valid terminal token is required: use the terminalUrl the API returned, as it is.",
                });
            var view = await catalog.GetAsync(organizationId, BoxKinds.Sandbox, boxId, http.RequestAborted);
            if (view is null) return ApiError.NotFound($"Sandbox {id}");
            if (view.Status == BoxStatuses.Paused) return ApiError.Conflict($"Sandbox {id} is paused: resume it first (POST /v1/sandboxes/{id}/resume).");
            if (view.Status != BoxStatuses.Ready || view.Endpoint is null) return ApiError.Conflict($"Sandbox {id} is {view.Status}, not ready.");
            var (cols, badCols) = Dimension(http, "cols");
            if (badCols is not null) return badCols;
            var (rows, badRows) = Dimension(http, "rows");
            if (badRows is not null) return badRows;
            if (!http.WebSockets.IsWebSocketRequest) return ApiError.Validation("This route takes a WebSocket upgrade: open terminalUrl with a WebSocket client.");

            var key = InternalApi.Key(configuration);
            var upstream = await relay.ConnectUpstreamAsync(TerminalAddress(view.Endpoint, cols, rows),
                o => o.SetRequestHeader(InternalApi.HeaderName, key), http.RequestAborted);
            if (upstream is null) return ApiError.UpstreamUnavailable($"The terminal of sandbox {id} did not accept the connection.");
            await relay.RelayAsync(http, boxId, upstream, "Terminal");
            return Results.Empty;
        });
        return app;
    }

    /// <summary>The worker's terminal socket: the box's http(s) endpoint as ws(s), with the client's size passed through.</summary>
    public static Uri TerminalAddress(string endpoint, int? cols, int? rows)
    {
        var address = new UriBuilder(endpoint.TrimEnd('/') + "/terminal");
        address.Scheme = address.Scheme == Uri.UriSchemeHttps ? "wss" : "ws";
        var query = new List<string>();
        if (cols is { } c) query.Add("cols=" + c.ToString(CultureInfo.InvariantCulture));
        if (rows is { } r) query.Add("rows=" + r.ToString(CultureInfo.InvariantCulture));
        address.Query = string.Join('&', query);
        return address.Uri;
    }

    private static (int? Value, ApiError? Error) Dimension(HttpContext http, string name)
    {
        var raw = http.Request.Query[name];
        if (raw.Count == 0 || string.IsNullOrEmpty(raw[0])) return (null, null);
        return raw.Count == 1 && int.TryParse(raw[0], NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v is >= 1 and <= MaxDimension
            ? (v, null)
            : (null, ApiError.Validation($"{name}: a whole number from 1 to {MaxDimension}."));
    }
}
