using System.Globalization;
using Boxes.Api.Auth;
using Boxes.Api.Billing;
using Boxes.Api.Errors;
using Boxes.Api.Sandboxes;

namespace Boxes.Api.Usage;

/// <summary>
/// <c>GET /v1/usage</c> (the SDK's getUsage), <c>GET /v1/usage/export</c> (the organisation's usage feed) and, for the
/// operator, <c>GET /v1/admin/usage/export</c> (everyone's). services/billing owns the usage records: each route checks
/// what is cheap to check here, forwards to its internal route (docs/INTERNAL.md, "Billing") with the caller's
/// organisation in the path, and passes the answer through: status, body, content type and, for the feed,
/// <c>X-Next-Cursor</c>.
/// </summary>
public static class UsageEndpoints
{
    public const int MaxTimeLength = 64;
    public const int MaxCursorLength = 1024;
    public const int MaxExportLimit = 10_000;
    private static readonly string[] Formats = ["ndjson", "csv"];

    public static IEndpointRouteBuilder MapUsageEndpoints(this IEndpointRouteBuilder app)
    {
        var usage = app.MapGroup("/v1/usage");

        // The period's rules (ISO 8601, to after from, at most 366 days) are billing's to enforce: its 400 names the field.
        usage.MapGet("", async (HttpContext http, BillingClient billing, CancellationToken ct) =>
        {
            var (from, badFrom) = Single(http.Request.Query, "from", MaxTimeLength, "an ISO 8601 time such as 2025-01-01T00:00:00Z");
            if (badFrom is not null) return badFrom;
            var (to, badTo) = Single(http.Request.Query, "to", MaxTimeLength, "an ISO 8601 time such as 2025-02-01T00:00:00Z");
            if (badTo is not null) return badTo;
            return (await billing.UsageAsync(http.Caller().OrganizationId, from, to, ct)).PassThrough();
        });

        usage.MapGet("/export", (HttpContext http, CancellationToken ct) => ExportAsync(http, http.Caller().OrganizationId, ct));
        return app;
    }

    /// <summary><c>GET /v1/admin/usage/export</c>: the feed across every organisation (the operator key is checked by authentication).</summary>
    public static Task<IResult> AdminExportAsync(HttpContext http, CancellationToken ct) => ExportAsync(http, null, ct);

    private static async Task<IResult> ExportAsync(HttpContext http, Guid? organizationId, CancellationToken ct)
    {
        var (query, invalid) = ExportQuery(http.Request.Query);
        if (invalid is not null) return invalid;
        var answer = await http.RequestServices.GetRequiredService<BillingClient>().ExportAsync(organizationId, query!, ct);
        return new FeedResult(answer);
    }

    /// <summary><c>?after=&amp;format=&amp;limit=</c> → the query string to forward ("" or "?...").</summary>
    public static (string? Query, ApiError? Error) ExportQuery(IQueryCollection query)
    {
        var parts = new List<string>();
        var (after, badAfter) = Single(query, "after", MaxCursorLength, "a cursor from a previous read's X-Next-Cursor");
        if (badAfter is not null) return (null, badAfter);
        // The cursor is billing's own opaque token: only its size is ours to bound.
        if (after is not null) parts.Add("after=" + Uri.EscapeDataString(after));
        var (format, badFormat) = Single(query, "format", 16, "ndjson or csv");
        if (badFormat is not null) return (null, badFormat);
        if (format is not null)
        {
            if (!Formats.Contains(format)) return (null, ApiError.Validation($"format: must be ndjson or csv (got \"{Fields.Shorten(format)}\")."));
            parts.Add("format=" + format);
        }
        var (limit, badLimit) = Single(query, "limit", 16, $"a whole number from 1 to {MaxExportLimit}");
        if (badLimit is not null) return (null, badLimit);
        if (limit is not null)
        {
            if (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out var size) || size is < 1 or > MaxExportLimit)
                return (null, ApiError.Validation($"limit: a whole number from 1 to {MaxExportLimit}."));
            parts.Add("limit=" + size.ToString(CultureInfo.InvariantCulture));
        }
        return (parts.Count == 0 ? "" : "?" + string.Join('&', parts), null);
    }

    /// <summary>A query parameter given at most once and not too long; empty counts as absent.</summary>
    private static (string? Value, ApiError? Error) Single(IQueryCollection query, string name, int maxLength, string expected)
    {
        var values = query[name];
        if (values.Count > 1) return (null, ApiError.Validation($"{name}: given more than once."));
        if (values.Count == 0 || string.IsNullOrEmpty(values[0])) return (null, null);
        if (values[0]!.Length > maxLength) return (null, ApiError.Validation($"{name}: expected {expected}, got something longer than {maxLength} characters."));
        return (values[0], null);
    }

    /// <summary>The feed's pass-through, plus its cursor header (set before the body streams).</summary>
    private sealed class FeedResult(WorkerDataPlane.Answer answer) : IResult
    {
        public Task ExecuteAsync(HttpContext http)
        {
            if (answer.Response is { } response && response.Headers.TryGetValues(BillingClient.NextCursorHeader, out var cursor))
                http.Response.Headers[BillingClient.NextCursorHeader] = cursor.FirstOrDefault();
            return answer.PassThrough().ExecuteAsync(http);
        }
    }
}
