using System.Text.Json;
using Boxes.Api.Auth;
using Boxes.Api.Billing;
using Boxes.Api.Errors;
using Boxes.Api.Idempotency;
using Boxes.Contracts;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Lifecycle;

/// <summary>How one kind of box looks on the wire.</summary>
public interface IBoxRenderer
{
    /// <summary>
    /// The box as <paramref name="viewer"/> may see it: the WebSocket URLs carry working session tokens, so they are only
    /// shown to a key that could use the box that way (a read-only key sees the box, not a way into it).
    /// </summary>
    object Render(BoxView view, Caller viewer);
}

/// <summary>One kind of box's public surface: its kind, what a message calls one ("Sandbox"), and the statuses a list filters by.</summary>
public sealed record BoxSurface(string Kind, string Noun, IReadOnlyList<string> Statuses);

/// <summary>Reads and checks a create body into a spec, or says what is wrong with it.</summary>
public delegate ValueTask<(BoxSpec? Spec, ApiError? Error)> ParseBoxSpec(HttpContext http, JsonElement body, Caller caller, CancellationToken ct);

/// <summary>
/// The lifecycle routes every kind of box shares (create, get, list, close), mapped once per kind so that
/// browsers and sandboxes behave alike: same scoping (another organisation's id, or a box of the other kind,
/// is 404), same concurrency limit across kinds, same list paging.
/// </summary>
public static class BoxRoutes
{
    public static RouteGroupBuilder MapBoxLifecycle<TRenderer>(this RouteGroupBuilder group, BoxSurface surface, ParseBoxSpec parse)
        where TRenderer : IBoxRenderer
    {
        group.MapPost("", async (HttpContext http, BoxCatalog catalog, IOptions<PlanCatalog> plans, MonthlyAllowance allowance, CancellationToken ct) =>
        {
            var render = Renderer<TRenderer>(http);
            var caller = http.Caller();
            var (body, error) = await JsonBody.ReadObjectAsync(http.Request, ct);
            if (error is not null) return error;
            var (spec, invalid) = await parse(http, body, caller, ct);
            if (invalid is not null) return invalid;
            // The plan's monthly vCPU-hours, for both kinds, before anything is appended (a few seconds' cache; billing down lets it through).
            if (await allowance.CheckAsync(caller, ct) is { } overMonthly) return overMonthly;
            var limit = plans.Value.For(caller.Plan).ConcurrentBoxes;
            // With an Idempotency-Key, the 202 is stored in the box's own transaction: a crash after the commit still leaves the retry its answer.
            StoredAnswer? stored = null;
            var (outcome, view) = await catalog.CreateAsync(caller.OrganizationId, surface.Kind, spec!, limit, ct,
                IdempotencyFilter.Of(http) is { } idempotency
                    ? (tx, created, token) => idempotency.CompleteWithinAsync(tx, stored = StoredAnswer.Json(StatusCodes.Status202Accepted, render.Render(created, caller)), token)
                    : null);
            if (outcome == BoxCatalog.CreateOutcome.OverConcurrencyLimit)
                return ApiError.PlanLimit($"The {caller.Plan} plan allows {limit} boxes at once (browsers and sandboxes together); close one or upgrade.", null, caller.Plan);
            return stored ?? Results.Json(render.Render(view!, caller), BoxesJson.Options, statusCode: StatusCodes.Status202Accepted);
        }).WithIdempotency();

        group.MapGet("/{id}", async (string id, HttpContext http, BoxCatalog catalog, CancellationToken ct) =>
        {
            var render = Renderer<TRenderer>(http);
            var view = await catalog.FindAsync(http.Caller(), surface.Kind, id, ct);
            return view is null ? NotFound(surface, id) : Results.Json(render.Render(view, http.Caller()), BoxesJson.Options);
        });

        group.MapGet("", async (HttpContext http, BoxCatalog catalog, string? status, string? cursor, string? limit, CancellationToken ct) =>
        {
            var render = Renderer<TRenderer>(http);
            if (status is not null && !surface.Statuses.Contains(status))
                return ApiError.Validation($"status: must be one of {string.Join(", ", surface.Statuses)} (got \"{status}\").");
            var size = 20;
            if (limit is not null && (!int.TryParse(limit, out size) || size is < 1 or > 100))
                return ApiError.Validation("limit: a whole number from 1 to 100.");
            (DateTimeOffset, Guid)? after = null;
            if (cursor is not null)
            {
                if (!Cursor.TryDecode(cursor, out var decoded)) return ApiError.Validation("cursor: not a cursor this API returned.");
                after = decoded;
            }
            var page = await catalog.ListAsync(http.Caller().OrganizationId, surface.Kind, status, size, after, ct);
            return Results.Json(new { items = page.Items.Select(v => render.Render(v, http.Caller())), nextCursor = page.NextCursor }, BoxesJson.Options);
        });

        group.MapDelete("/{id}", async (string id, HttpContext http, BoxCatalog catalog, CancellationToken ct) =>
        {
            var render = Renderer<TRenderer>(http);
            if (!Guid.TryParse(id, out var boxId)) return NotFound(surface, id);
            var view = await catalog.CloseAsync(http.Caller().OrganizationId, surface.Kind, boxId, ct);
            return view is null ? NotFound(surface, id) : Results.Json(render.Render(view, http.Caller()), BoxesJson.Options, statusCode: StatusCodes.Status202Accepted);
        });
        return group;
    }

    // Resolved here rather than as a handler parameter: the route-handler analyzer cannot follow a generic parameter type.
    private static IBoxRenderer Renderer<TRenderer>(HttpContext http) where TRenderer : IBoxRenderer => http.RequestServices.GetRequiredService<TRenderer>();

    public static ApiError NotFound(BoxSurface surface, string id) => ApiError.NotFound($"{surface.Noun} {id}");
}
