using Boxes.Api.Auth;
using Boxes.Api.Cdp;
using Boxes.Api.Errors;
using Boxes.Contracts;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Browsers;

/// <summary><c>/v1/browsers</c>: the BrowserCloud half of the SDK.</summary>
public static class BrowserEndpoints
{
    private static readonly string[] Statuses =
        [BoxStatuses.Queued, BoxStatuses.Scheduling, BoxStatuses.Starting, BoxStatuses.Ready, BoxStatuses.Ending, BoxStatuses.Ended, BoxStatuses.Failed];

    public static IEndpointRouteBuilder MapBrowserEndpoints(this IEndpointRouteBuilder app)
    {
        var browsers = app.MapGroup("/v1/browsers");

        browsers.MapPost("", async (HttpContext http, BoxCatalog catalog, IOptions<PlanCatalog> plans, SessionView render, CancellationToken ct) =>
        {
            var caller = http.Caller();
            var (body, error) = await JsonBody.ReadObjectAsync(http.Request, ct);
            if (error is not null) return error;
            var (spec, invalid) = BrowserConfig.Parse(body, caller, plans.Value);
            if (invalid is not null) return invalid;
            var limit = plans.Value.For(caller.Plan).ConcurrentBoxes;
            var (outcome, view) = await catalog.CreateAsync(caller.OrganizationId, BoxKinds.Browser, spec!, limit, ct);
            if (outcome == BoxCatalog.CreateOutcome.OverConcurrencyLimit)
                return ApiError.PlanLimit($"The {caller.Plan} plan allows {limit} boxes at once; close one or upgrade.", null, caller.Plan);
            return Results.Json(render.Browser(view!), Json.Options, statusCode: StatusCodes.Status202Accepted);
        });

        browsers.MapGet("/{id}", async (string id, HttpContext http, BoxCatalog catalog, SessionView render, CancellationToken ct) =>
        {
            // A malformed id is as unknown as a foreign one: 404 either way, revealing nothing.
            if (!Guid.TryParse(id, out var boxId)) return ApiError.NotFound($"Browser session {id}");
            var view = await catalog.GetAsync(http.Caller().OrganizationId, BoxKinds.Browser, boxId, ct);
            return view is null ? ApiError.NotFound($"Browser session {id}") : Results.Json(render.Browser(view), Json.Options);
        });

        browsers.MapGet("", async (HttpContext http, BoxCatalog catalog, SessionView render, string? status, string? cursor, string? limit, CancellationToken ct) =>
        {
            if (status is not null && !Statuses.Contains(status))
                return ApiError.Validation($"status: must be one of {string.Join(", ", Statuses)} (got \"{status}\").");
            var size = 20;
            if (limit is not null && (!int.TryParse(limit, out size) || size is < 1 or > 100))
                return ApiError.Validation("limit: a whole number from 1 to 100.");
            (DateTimeOffset, Guid)? after = null;
            if (cursor is not null)
            {
                if (!Cursor.TryDecode(cursor, out var decoded)) return ApiError.Validation("cursor: not a cursor this API returned.");
                after = decoded;
            }
            var page = await catalog.ListAsync(http.Caller().OrganizationId, BoxKinds.Browser, status, size, after, ct);
            return Results.Json(new { items = page.Items.Select(render.Browser), nextCursor = page.NextCursor }, Json.Options);
        });

        browsers.MapDelete("/{id}", async (string id, HttpContext http, BoxCatalog catalog, SessionView render, CancellationToken ct) =>
        {
            if (!Guid.TryParse(id, out var boxId)) return ApiError.NotFound($"Browser session {id}");
            var view = await catalog.CloseAsync(http.Caller().OrganizationId, BoxKinds.Browser, boxId, ct);
            return view is null ? ApiError.NotFound($"Browser session {id}") : Results.Json(render.Browser(view), Json.Options, statusCode: StatusCodes.Status202Accepted);
        });
        return app;
    }
}

internal static class Json
{
    public static readonly System.Text.Json.JsonSerializerOptions Options = BoxesJson.Options;
}

/// <summary>How a box looks on the wire.</summary>
public sealed class SessionView(SessionTokens tokens, IOptions<ApiOptions> options, TimeProvider clock)
{
    private readonly string _wsBase = ToWebSocketBase(options.Value.PublicUrl);

    public object Browser(BoxView v) => new
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
        cdpUrl = v.Status == BoxStatuses.Ready ? CdpUrl(v) : null,
        previewViewerUrl = (string?)null,
        artifacts = Array.Empty<object>(),
    };

    private string CdpUrl(BoxView v)
    {
        // Valid until the session's own end, plus a minute's grace for a client reconnecting at the edge.
        var expires = (v.ExpiresAt ?? clock.GetUtcNow().AddHours(1)).AddMinutes(1);
        return $"{_wsBase}/v1/browsers/{v.Id}/cdp?token={tokens.Issue(v.Id, v.OrganizationId, expires)}";
    }

    private static string ToWebSocketBase(string publicUrl)
    {
        var uri = new Uri(publicUrl.TrimEnd('/'));
        var scheme = uri.Scheme == "https" ? "wss" : "ws";
        return $"{scheme}://{uri.Authority}{uri.AbsolutePath.TrimEnd('/')}";
    }
}
