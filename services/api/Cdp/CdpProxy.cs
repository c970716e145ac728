using Boxes.Api.Auth;
using Boxes.Api.Errors;
using Boxes.Api.Lifecycle;
using Boxes.Api.Proxy;
using Boxes.Contracts;

namespace Boxes.Api.Cdp;

/// <summary>
/// <c>GET /v1/browsers/{id}/cdp?token=...</c>: a WebSocket relayed frame by frame to the box's Chromium.
/// Everything is checked before the upgrade is accepted (token, box, state), so a refused client never
/// gets a byte through to the browser.
/// </summary>
public static class CdpProxy
{
    public static IEndpointRouteBuilder MapCdpProxy(this IEndpointRouteBuilder app)
    {
        app.Map("/v1/browsers/{id}/cdp", async (string id, HttpContext http, SessionTokens tokens, BoxCatalog catalog, WebSocketRelay relay) =>
        {
            if (!Guid.TryParse(id, out var boxId)) return ApiError.NotFound($"Browser session {id}");
            var (verdict, organizationId) = tokens.Validate(http.Request.Query["token"].ToString(), TokenScopes.Cdp, boxId);
            if (verdict != SessionTokens.Verdict.Valid)
                return ApiError.Unauthenticated(verdict switch
                {
                    SessionTokens.Verdict.Expired => "The session token has expired; GET the session for a fresh cdpUrl.",
                    SessionTokens.Verdict.OtherBox => "The session token belongs to another session.",
                    SessionTokens.Verdict.OtherScope => "This token does not open CDP: use the cdpUrl the API returned, as it is.",
                    _ => "A valid session token is required: use the cdpUrl the API returned, as it is.",
                });
            var view = await catalog.GetAsync(organizationId, BoxKinds.Browser, boxId, http.RequestAborted);
            if (view is null) return ApiError.NotFound($"Browser session {id}");
            if (view.Status != BoxStatuses.Ready || view.Endpoint is null)
                return ApiError.Conflict($"Browser session {id} is {view.Status}, not ready.");
            if (!http.WebSockets.IsWebSocketRequest) return ApiError.Validation("This route takes a WebSocket upgrade (a CDP client).");

            var upstream = await relay.ConnectUpstreamAsync(new Uri(view.Endpoint), null, http.RequestAborted);
            if (upstream is null) return ApiError.UpstreamUnavailable($"The browser of session {id} did not accept the connection.");
            await relay.RelayAsync(http, boxId, upstream, "CDP");
            return Results.Empty;
        });
        return app;
    }
}
