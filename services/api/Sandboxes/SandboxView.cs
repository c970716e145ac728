using Boxes.Api.Auth;
using Boxes.Api.Lifecycle;
using Boxes.Contracts;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Sandboxes;

/// <summary>How a sandbox looks on the wire. Never shows its env values: they may be secrets.</summary>
public sealed class SandboxView(SessionTokens tokens, IOptions<ApiOptions> options, TimeProvider clock) : IBoxRenderer
{
    private readonly string _wsBase = PublicAddress.WebSocket(options.Value.PublicUrl);

    public object Render(BoxView v, Caller viewer) => new
    {
        id = v.Id,
        status = v.Status,
        runtime = v.Spec.Runtime,
        size = v.Spec.Size,
        region = v.Spec.Region,
        ephemeral = v.Spec.Ephemeral ?? true,
        network = v.Spec.Network ?? SandboxNetworks.None,
        fromCheckpoint = v.Spec.FromCheckpoint,
        maxDurationMs = v.Spec.MaxDurationMs,
        createdAt = v.CreatedAt,
        readyAt = v.ReadyAt,
        pausedAt = v.PausedAt,
        endedAt = v.EndedAt,
        expiresAt = v.ExpiresAt,
        endReason = v.EndReason,
        // A terminal runs commands: only for a key that may (sandboxes:exec), like GET /terminal itself.
        terminalUrl = v.Status == BoxStatuses.Ready && viewer.Grants(Permissions.SandboxesExec) ? Terminal(v).Url : null,
        browserPreviewViewerUrl = (string?)null,
        opencode = (object?)null,
        artifacts = Artifacts(v),
    };

    /// <summary>A terminal URL for the sandbox with its session token, valid until the sandbox's own end plus a minute's grace.</summary>
    public (string Url, string Token) Terminal(BoxView v)
    {
        var expires = (v.ExpiresAt ?? clock.GetUtcNow().AddHours(1)).AddMinutes(1);
        var token = tokens.Issue(TokenScopes.Terminal, v.Id, v.OrganizationId, expires);
        return ($"{_wsBase}/v1/sandboxes/{v.Id}/terminal/ws?token={token}", token);
    }

    /// <summary>
    /// The SDK's artifacts object: <c>checkpointKey</c> is the newest checkpoint's key (an artifact's key is its id),
    /// <c>outputLogKey</c> stays null until output logs are stored.
    /// </summary>
    public static object Artifacts(BoxView v) => new
    {
        checkpointKey = v.Artifacts.LastOrDefault(a => a.Kind == ArtifactKinds.Checkpoint)?.Id,
        outputLogKey = (Guid?)null,
        items = v.Artifacts.Select(a => new { key = a.Id, kind = a.Kind, contentType = a.ContentType, sizeBytes = a.SizeBytes, createdAt = a.CreatedAt }),
    };
}
