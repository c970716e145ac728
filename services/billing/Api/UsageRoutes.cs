using System.Globalization;
using Boxes.Billing.Metering;
using Boxes.Billing.Usage;
using Boxes.Contracts;
using Boxes.ServiceDefaults;

namespace Boxes.Billing.Api;

/// <summary>
/// The internal billing surface of docs/INTERNAL.md ("Billing"), behind the internal key: an organisation's usage for a
/// period, its usage feed, and the operator's feed across every organisation. The API's public <c>/v1/usage</c> routes
/// forward here with the caller's organisation in the path.
/// </summary>
public static class UsageRoutes
{
    public const string NextCursorHeader = "X-Next-Cursor";
    public static readonly TimeSpan MaxPeriod = TimeSpan.FromDays(366);

    private static readonly string[] TimeFormats =
    [
        "yyyy-MM-dd'T'HH:mm:ss.FFFFFFFK", "yyyy-MM-dd'T'HH:mm:ssK", "yyyy-MM-dd'T'HH:mmK", "yyyy-MM-dd",
    ];

    public static IEndpointRouteBuilder MapUsageRoutes(this IEndpointRouteBuilder app)
    {
        var org = app.MapGroup("/internal/organizations/{org}/usage").RequireInternalKey();
        org.MapGet("/", UsageAsync);
        org.MapGet("/export", OrganizationExportAsync);
        app.MapGroup("/internal/usage").RequireInternalKey().MapGet("/export", OperatorExportAsync);
        return app;
    }

    private static async Task<IResult> UsageAsync(string org, HttpRequest request, UsageTotals totals, TimeProvider clock, CancellationToken ct)
    {
        if (!TryOrganization(org, out var organizationId, out var bad)) return bad!;
        // The default period is the current calendar month (UTC); a bound left out keeps its default.
        var now = clock.GetUtcNow().UtcDateTime;
        var monthStart = new DateTimeOffset(now.Year, now.Month, 1, 0, 0, 0, TimeSpan.Zero);
        if (!TryTime(request, "from", monthStart, out var from, out bad)) return bad!;
        if (!TryTime(request, "to", monthStart.AddMonths(1), out var to, out bad)) return bad!;
        if (to <= from) return BillingErrors.Validation("to", "must be after from");
        if (to - from > MaxPeriod) return BillingErrors.Validation("to", "must be at most 366 days after from");

        var report = await totals.ForOrganizationAsync(organizationId, from, to, ct);
        static object Kind(KindUsage k) => new { sessions = k.Sessions, hours = k.Hours, vcpuSeconds = k.VcpuSeconds };
        return Results.Json(new
        {
            totalSessions = report.Total.Sessions,
            totalBrowserHours = report.Browser.Hours,
            totalVcpuSeconds = report.Total.VcpuSeconds,
            byKind = new { browser = Kind(report.Browser), sandbox = Kind(report.Sandbox) },
            period = new { from = UsageFormats.Time(report.From), to = UsageFormats.Time(report.To) },
        }, BoxesJson.Options);
    }

    private static Task<IResult> OrganizationExportAsync(string org, HttpContext http, UsageFeed feed, CancellationToken ct)
    {
        if (!TryOrganization(org, out var organizationId, out var bad)) return Task.FromResult(bad!);
        return ExportAsync(organizationId, http, feed, ct);
    }

    private static Task<IResult> OperatorExportAsync(HttpContext http, UsageFeed feed, CancellationToken ct) => ExportAsync(null, http, feed, ct);

    private static async Task<IResult> ExportAsync(Guid? organizationId, HttpContext http, UsageFeed feed, CancellationToken ct)
    {
        var query = http.Request.Query;
        var after = FeedPosition.Start;
        if (query.TryGetValue("after", out var afterText) && afterText.ToString().Length > 0
            && !FeedPosition.TryDecode(afterText.ToString(), out after))
            return BillingErrors.Validation("after", $"is not a cursor this feed handed out (pass the {NextCursorHeader} header as it is)");
        var format = UsageFormats.Ndjson;
        if (query.TryGetValue("format", out var formatText) && formatText.ToString().Length > 0)
        {
            format = formatText.ToString();
            if (!UsageFormats.All.Contains(format, StringComparer.Ordinal))
                return BillingErrors.Validation("format", $"must be one of {string.Join(", ", UsageFormats.All)}");
        }
        var limit = UsageFeed.DefaultLimit;
        if (query.TryGetValue("limit", out var limitText) && limitText.ToString().Length > 0
            && (!int.TryParse(limitText, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > UsageFeed.MaxLimit))
            return BillingErrors.Validation("limit", $"must be a whole number from 1 to {UsageFeed.MaxLimit}");

        var page = await feed.ReadAsync(organizationId, after, limit, ct);
        http.Response.Headers[NextCursorHeader] = page.Next.Encode();
        return Results.Bytes(UsageFormats.Write(format, page.Records), UsageFormats.ContentType(format));
    }

    /// <summary>The organisation in the path: the API always sends a GUID, so anything else is a caller's bug, named as such.</summary>
    private static bool TryOrganization(string org, out Guid id, out IResult? error)
    {
        error = Guid.TryParse(org, out id) ? null : BillingErrors.Validation("organizationId", "must be a GUID");
        return error is null;
    }

    /// <summary>An ISO 8601 time (a date alone is its midnight UTC; no offset means UTC), to the millisecond.</summary>
    private static bool TryTime(HttpRequest request, string field, DateTimeOffset fallback, out DateTimeOffset value, out IResult? error)
    {
        error = null;
        value = fallback;
        if (!request.Query.TryGetValue(field, out var text) || text.ToString().Length == 0) return true;
        if (!DateTimeOffset.TryParseExact(text.ToString(), TimeFormats, CultureInfo.InvariantCulture,
                DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out value))
        {
            error = BillingErrors.Validation(field, "must be an ISO 8601 time such as 2026-03-01T00:00:00Z");
            return false;
        }
        value = Pieces.ToMillisecond(value);
        return true;
    }
}
