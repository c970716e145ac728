using Boxes.Api.Auth;
using Boxes.Api.Lifecycle;
using Boxes.Contracts;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Browsers;

/// <summary>How a browser session looks on the wire.</summary>
public sealed class SessionView(SessionTokens tokens, IOptions<ApiOptions> options, TimeProvider clock) : IBoxRenderer
{
    private readonly string _wsBase = PublicAddress.WebSocket(options.Value.PublicUrl);

    public object Render(BoxView v, Caller viewer) => new
    {
        id = v.Id,
        status = v.Status,
        weight = v.Spec.Weight,
        isolation = v.Spec.Isolation,
        region = v.Spec.Region,
        stealth = v.Spec.Stealth,
        recording = v.Spec.Recording,
        maxDurationMs = v.Spec.MaxDurationMs,
        createdAt = v.CreatedAt,
        readyAt = v.ReadyAt,
        endedAt = v.EndedAt,
        expiresAt = v.ExpiresAt,
        endReason = v.EndReason,
        // Driving the browser over CDP is what browsers:write allows; a read-only key does not get the way in.
        cdpUrl = v.Status == BoxStatuses.Ready && viewer.Grants(Permissions.BrowsersWrite) ? CdpUrl(v) : null,
        previewViewerUrl = (string?)null,
        artifacts = Array.Empty<object>(),
    };

    private string CdpUrl(BoxView v)
    {
        // Valid until the session's own end, plus a minute's grace for a client reconnecting at the edge.
        var expires = (v.ExpiresAt ?? clock.GetUtcNow().AddHours(1)).AddMinutes(1);
        return $"{_wsBase}/v1/browsers/{v.Id}/cdp?token={tokens.Issue(TokenScopes.Cdp, v.Id, v.OrganizationId, expires)}";
    }
}
