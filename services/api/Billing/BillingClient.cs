using System.Globalization;
using System.Net;
using System.Text.Json;
using Boxes.Api.Errors;
using Boxes.Api.Sandboxes;
using Boxes.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Billing;

/// <summary>
/// The API's client for services/billing's internal surface (docs/INTERNAL.md, "Billing"), with the internal key on every
/// request. Answers come back as the pass-through the worker's data plane and the webhooks service use
/// (<see cref="WorkerDataPlane.Answer"/>): the service's status and body as they are, or <c>502 UPSTREAM_UNAVAILABLE</c>
/// when it cannot be reached, does not answer in time, refuses our key or answers something that is not the contract.
/// </summary>
public sealed class BillingClient(HttpClient http, IOptions<BillingOptions> options, ILogger<BillingClient> logger)
{
    public const string AddressKey = "Billing:Address";
    public const string DefaultAddress = "http://127.0.0.1:8083";
    public const string NextCursorHeader = "X-Next-Cursor";

    /// <summary>A usage answer is a few hundred bytes; anything near this is not the service talking. (The feed is streamed, not buffered.)</summary>
    private const int MaxAnswerBytes = 1024 * 1024;

    /// <summary>The service's address (<c>Billing:Address</c>) with a trailing slash; throws when it is not an http(s) URL.</summary>
    public static Uri Address(IConfiguration configuration) => InternalApi.ServiceAddress(configuration, AddressKey, DefaultAddress);

    public static void Configure(HttpClient http, IConfiguration configuration)
    {
        http.BaseAddress = Address(configuration);
        // Each call has its own deadline (a create's check is shorter than a usage read); the feed's body is streamed
        // after its headers, for as long as the client reads it.
        http.Timeout = Timeout.InfiniteTimeSpan;
        http.MaxResponseContentBufferSize = MaxAnswerBytes;
        InternalApi.Authorize(http, configuration);
    }

    /// <summary><c>internal/organizations/{org}/usage</c> for the period (the service's default, this month, when both are null).</summary>
    public Task<WorkerDataPlane.Answer> UsageAsync(Guid organizationId, string? from, string? to, CancellationToken ct, TimeSpan? deadline = null)
    {
        var query = new List<string>();
        if (from is not null) query.Add("from=" + Uri.EscapeDataString(from));
        if (to is not null) query.Add("to=" + Uri.EscapeDataString(to));
        return SendAsync($"internal/organizations/{organizationId}/usage{(query.Count == 0 ? "" : "?" + string.Join('&', query))}",
            feed: false, deadline ?? options.Value.Timeout, ct);
    }

    /// <summary>The usage feed: the organisation's (<c>internal/organizations/{org}/usage/export</c>) or, with no organisation, everyone's.</summary>
    public Task<WorkerDataPlane.Answer> ExportAsync(Guid? organizationId, string query, CancellationToken ct) =>
        SendAsync((organizationId is { } org ? $"internal/organizations/{org}/usage/export" : "internal/usage/export") + query,
            feed: true, options.Value.Timeout, ct);

    /// <summary>
    /// The organisation's vCPU-seconds in <paramref name="period"/>, or why there are none: billing's own answer when it
    /// was not a success (to pass through or dispose), or a 502 when it could not be asked or its answer has no
    /// numeric <c>totalVcpuSeconds</c>.
    /// </summary>
    public async Task<(double? VcpuSeconds, WorkerDataPlane.Answer? Failure)> VcpuSecondsAsync(Guid organizationId, BillingPeriod period, CancellationToken ct, TimeSpan? deadline = null)
    {
        var answer = await UsageAsync(organizationId, period.FromQuery, period.ToQuery, ct, deadline);
        if (answer.Response is not { IsSuccessStatusCode: true } response) return (null, answer);
        using (answer)
        {
            try
            {
                using var doc = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
                if (doc.RootElement.ValueKind == JsonValueKind.Object
                    && doc.RootElement.TryGetProperty("totalVcpuSeconds", out var total) && total.ValueKind == JsonValueKind.Number)
                    return (total.GetDouble(), null);
            }
            catch (JsonException)
            {
            }
        }
        logger.LogError("The billing service's usage answer for organisation {OrganizationId} has no numeric totalVcpuSeconds", organizationId);
        return (null, Unavailable("The billing service answered without the expected usage figures; try again shortly."));
    }

    private async Task<WorkerDataPlane.Answer> SendAsync(string pathAndQuery, bool feed, TimeSpan deadline, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(deadline);
        HttpResponseMessage response;
        try
        {
            // The feed is streamed through (a page may hold 10 000 records); the other answers are small and read whole.
            response = await http.SendAsync(request, feed ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead, timeout.Token);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or OperationCanceledException)
        {
            var timedOut = ex is OperationCanceledException;
            logger.LogWarning("The billing service did not answer GET {Path}: {Error}", pathAndQuery, timedOut ? $"no answer within {deadline}" : ex.Message);
            return Unavailable(timedOut
                ? $"The billing service did not answer within {deadline.TotalSeconds:0.#} s; try again shortly."
                : "The billing service could not be reached; try again shortly.");
        }

        // Our own key refused is the platform's misconfiguration, not the caller's: passed through, the 401 would tell a
        // client with a perfectly good API key that it is unauthenticated.
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            response.Dispose();
            logger.LogError("The billing service refused the internal key on GET {Path}: Boxes:InternalKey differs between the API and it", pathAndQuery);
            return Unavailable("The billing service refused this API's credentials; the operator has to fix the platform's configuration.");
        }
        // Errors (and usage) are JSON in the /v1 shape; the feed is NDJSON or CSV. Anything else (an older build without
        // these routes answers a bare 404, a proxy its own page) would break the contract's shapes, so it is not passed on.
        var type = response.Content.Headers.ContentType?.MediaType;
        if (!(IsJson(type) || (feed && response.IsSuccessStatusCode && IsFeed(type))))
        {
            var status = (int)response.StatusCode;
            response.Dispose();
            logger.LogError("The billing service answered GET {Path} with {Status} and content type {Type}", pathAndQuery, status, type ?? "(none)");
            return Unavailable($"The billing service answered {status} without the expected body; try again shortly.");
        }
        return new WorkerDataPlane.Answer(response, null);
    }

    private static bool IsJson(string? type) => type is not null && (type == "application/json" || type.EndsWith("+json", StringComparison.Ordinal));

    private static bool IsFeed(string? type) => type is "application/x-ndjson" or "application/ndjson" or "application/jsonl" or "text/csv";

    private static WorkerDataPlane.Answer Unavailable(string message) => new(null, ApiError.UpstreamUnavailable(message));
}

/// <summary>A calendar month in UTC: the period plans' monthly allowances and <c>GET /v1/billing</c>'s currentPeriod cover.</summary>
public readonly record struct BillingPeriod(DateTimeOffset Start, DateTimeOffset End)
{
    public static BillingPeriod MonthOf(DateTimeOffset at)
    {
        var utc = at.UtcDateTime;
        var start = new DateTimeOffset(utc.Year, utc.Month, 1, 0, 0, 0, TimeSpan.Zero);
        return new BillingPeriod(start, start.AddMonths(1));
    }

    public string FromQuery => Iso(Start);
    public string ToQuery => Iso(End);

    public static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
