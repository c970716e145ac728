using System.Globalization;
using System.Text;
using Boxes.Sdk.Internal;

namespace Boxes.Sdk;

/// <summary>
/// Browser sessions driven over CDP, and the organisation's webhooks, usage and billing (the seed's <c>BrowserCloud</c>).
/// One instance holds one HTTP connection pool: make one and reuse it; dispose it when done.
/// </summary>
public sealed class BrowserCloud : IDisposable
{
    private const string Browsers = "v1/browsers";

    /// <summary>Connects with <paramref name="options"/> (or the environment's <c>BOXES_API_KEY</c> / <c>BOXES_API_URL</c>).</summary>
    /// <exception cref="ArgumentException">No API key, or a malformed URL or retry setting.</exception>
    public BrowserCloud(BoxesClientOptions? options = null) => Transport = new BoxesTransport(options);

    internal BoxesTransport Transport { get; }

    /// <summary>Disposes the HTTP client and the handler it owns (never a caller's <see cref="BoxesClientOptions.HttpHandler"/>).</summary>
    public void Dispose() => Transport.Dispose();

    /// <summary>
    /// Creates a session, waits until it is ready (<see cref="BrowserConfig.Timeout"/>) and returns it. The session is
    /// closed before any exception leaves: a failure, the timeout (<c>TIMEOUT</c>) or the caller's cancellation.
    /// </summary>
    public async Task<LaunchedBrowser> LaunchAsync(BrowserConfig? config = null, CancellationToken cancellationToken = default)
    {
        config ??= new BrowserConfig();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(config.Timeout, "config.Timeout");
        var created = await CreateCoreAsync(config, finishInFlightOnCancel: true, cancellationToken).ConfigureAwait(false);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ready = await WaitForReadySessionAsync(created.Id, config.Timeout, cancellationToken).ConfigureAwait(false);
            return new LaunchedBrowser(this, ready);
        }
        catch
        {
            await CloseQuietlyAsync(created.Id).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Creates a session and returns at once (status <c>queued</c>).</summary>
    public Task<BrowserSession> CreateBrowserAsync(BrowserConfig? config = null, CancellationToken cancellationToken = default) =>
        CreateCoreAsync(config ?? new BrowserConfig(), finishInFlightOnCancel: false, cancellationToken);

    /// <summary>Reads a session.</summary>
    public Task<BrowserSession> GetBrowserAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, $"{Browsers}/{BoxesTransport.Segment(sessionId, nameof(sessionId))}", RetryRule.Idempotent),
            BoxesJsonContext.Default.BrowserSession, cancellationToken);

    /// <summary>Ends a session (idempotent: closing an ended session is not an error).</summary>
    public Task CloseBrowserAsync(string sessionId, CancellationToken cancellationToken = default) =>
        Transport.SendIgnoringBodyAsync(new ApiCall(HttpMethod.Delete, $"{Browsers}/{BoxesTransport.Segment(sessionId, nameof(sessionId))}", RetryRule.Idempotent),
            cancellationToken);

    /// <summary>A page of sessions, newest first, optionally of one status.</summary>
    public Task<BrowserSessionList> ListBrowsersAsync(string? status = null, string? cursor = null, int? limit = null, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, Browsers + Query.Of(("status", status), ("cursor", cursor), ("limit", Query.Number(limit))), RetryRule.Idempotent),
            BoxesJsonContext.Default.BrowserSessionList, cancellationToken);

    /// <summary>Polls the session until it is ready and returns its CDP URL; <c>TIMEOUT</c> after <paramref name="timeoutMs"/> (the session is left running).</summary>
    public async Task<string> WaitForReadyAsync(string sessionId, int timeoutMs = 30_000, CancellationToken cancellationToken = default)
    {
        var session = await WaitForReadySessionAsync(sessionId, timeoutMs, cancellationToken).ConfigureAwait(false);
        return session.CdpUrl ?? throw new BoxesError(0, "NO_CDP_URL",
            $"Browser session {sessionId} is ready but has no cdpUrl: the API key lacks the browsers:write permission.");
    }

    // --- Webhooks ---

    /// <summary>Creates a webhook endpoint; the answer carries its <see cref="Webhook.SigningSecret"/>, shown only here.</summary>
    public Task<Webhook> CreateWebhookAsync(CreateWebhookRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, "v1/webhooks", RetryRule.Create)
        {
            Content = BoxesTransport.Json(request, BoxesJsonContext.Default.CreateWebhookRequest),
        }, BoxesJsonContext.Default.Webhook, cancellationToken);
    }

    /// <summary>Every webhook endpoint of the organisation.</summary>
    public async Task<IReadOnlyList<Webhook>> ListWebhooksAsync(CancellationToken cancellationToken = default) =>
        (await Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, "v1/webhooks", RetryRule.Idempotent),
            BoxesJsonContext.Default.WebhookListResult, cancellationToken).ConfigureAwait(false)).Items;

    /// <summary>One webhook endpoint.</summary>
    public Task<Webhook> GetWebhookAsync(string id, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, Webhook(id), RetryRule.Idempotent), BoxesJsonContext.Default.Webhook, cancellationToken);

    /// <summary>Queues a <c>webhook.test</c> delivery to the endpoint.</summary>
    public Task<WebhookTestResult> TestWebhookAsync(string id, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, Webhook(id) + "/test", RetryRule.OnlyIfNotActed),
            BoxesJsonContext.Default.WebhookTestResult, cancellationToken);

    /// <summary>Deletes the endpoint.</summary>
    public Task DeleteWebhookAsync(string id, CancellationToken cancellationToken = default) =>
        Transport.SendIgnoringBodyAsync(new ApiCall(HttpMethod.Delete, Webhook(id), RetryRule.Idempotent), cancellationToken);

    /// <summary>A new signing secret; the previous one keeps signing for a while (both signatures are sent).</summary>
    public Task<WebhookSecretRotation> RotateWebhookSecretAsync(string id, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, Webhook(id) + "/rotate-secret", RetryRule.OnlyIfNotActed),
            BoxesJsonContext.Default.WebhookSecretRotation, cancellationToken);

    /// <summary>Re-enables an endpoint that was disabled.</summary>
    public Task<Webhook> EnableWebhookAsync(string id, CancellationToken cancellationToken = default) =>
        // Enabling an enabled endpoint changes nothing: safe to repeat.
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, Webhook(id) + "/enable", RetryRule.Idempotent),
            BoxesJsonContext.Default.Webhook, cancellationToken);

    /// <summary>The endpoint's deliveries with their attempts, newest first.</summary>
    public Task<WebhookDeliveryList> ListWebhookDeliveriesAsync(string id, int? limit = null, string? cursor = null, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, Webhook(id) + "/deliveries" + Query.Of(("limit", Query.Number(limit)), ("cursor", cursor)), RetryRule.Idempotent),
            BoxesJsonContext.Default.WebhookDeliveryList, cancellationToken);

    /// <summary>Sends a delivery again (same <c>webhook-id</c>, a fresh retry schedule).</summary>
    public Task ReplayWebhookDeliveryAsync(string id, string deliveryId, CancellationToken cancellationToken = default) =>
        Transport.SendIgnoringBodyAsync(new ApiCall(HttpMethod.Post,
            $"{Webhook(id)}/deliveries/{BoxesTransport.Segment(deliveryId, nameof(deliveryId))}/replay", RetryRule.OnlyIfNotActed), cancellationToken);

    // --- Usage and billing ---

    /// <summary>Usage in [<paramref name="from"/>, <paramref name="to"/>) (default: this calendar month, UTC).</summary>
    public Task<Usage> GetUsageAsync(DateTimeOffset? from = null, DateTimeOffset? to = null, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, "v1/usage" + Query.Of(("from", Query.Time(from)), ("to", Query.Time(to))), RetryRule.Idempotent),
            BoxesJsonContext.Default.Usage, cancellationToken);

    /// <summary>The plan, period, limits and this period's usage.</summary>
    public Task<BillingInfo> GetBillingAsync(CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, "v1/billing", RetryRule.Idempotent), BoxesJsonContext.Default.BillingInfo, cancellationToken);

    /// <summary>A payment page for a plan upgrade (<c>501 NOT_IMPLEMENTED</c> where no payment provider is configured).</summary>
    public Task<CheckoutSession> CreateCheckoutAsync(CheckoutRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, "v1/billing/checkout", RetryRule.Create)
        {
            Content = BoxesTransport.Json(request, BoxesJsonContext.Default.CheckoutRequest),
        }, BoxesJsonContext.Default.CheckoutSession, cancellationToken);
    }

    /// <summary>
    /// A page of the usage feed after <paramref name="after"/> (a previous page's <see cref="UsageExportPage.NextCursor"/>):
    /// the body as sent, and for NDJSON its records parsed.
    /// </summary>
    public async Task<UsageExportPage> ExportUsageAsync(string? after = null, string format = "ndjson", int? limit = null, CancellationToken cancellationToken = default)
    {
        if (format is not ("ndjson" or "csv"))
            throw new ArgumentException($"format: ndjson or csv (got \"{format}\").", nameof(format));
        using var response = await Transport.SendAsync(new ApiCall(HttpMethod.Get,
            "v1/usage/export" + Query.Of(("after", after), ("format", format), ("limit", Query.Number(limit))), RetryRule.Idempotent), cancellationToken).ConfigureAwait(false);
        var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var next = response.Headers.TryGetValues("X-Next-Cursor", out var values) ? values.FirstOrDefault() : null;
        var records = new List<UsageRecord>();
        if (format == "ndjson")
        {
            foreach (var line in body.Split('\n'))
            {
                if (line.Length == 0) continue;
                try
                {
                    records.Add(System.Text.Json.JsonSerializer.Deserialize(line, BoxesJsonContext.Default.UsageRecord)
                        ?? throw new System.Text.Json.JsonException("a null line"));
                }
                catch (System.Text.Json.JsonException ex)
                {
                    throw new BoxesError((int)response.StatusCode, "INVALID_RESPONSE", $"The usage feed sent a line that is not a usage record: {ex.Message}", innerException: ex);
                }
            }
        }
        return new UsageExportPage
        {
            Body = body,
            ContentType = response.Content.Headers.ContentType?.MediaType ?? "",
            NextCursor = next,
            Records = records,
        };
    }

    internal async Task<BrowserSession> WaitForReadySessionAsync(string sessionId, int timeoutMs, CancellationToken cancellationToken)
    {
        BoxesTransport.Segment(sessionId, nameof(sessionId));
        return await ReadyWaiter.WaitAsync(ct => GetBrowserAsync(sessionId, ct), s => s.Status, s => s.EndReason,
            "Browser session", sessionId, timeoutMs, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Closes a session on the way out of a failed launch; its own failure must not hide the launch's.</summary>
    internal async Task CloseQuietlyAsync(string sessionId)
    {
        try
        {
            // Not the caller's token: it may be the very cancellation we are cleaning up after.
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await CloseBrowserAsync(sessionId, bound.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is BoxesError or OperationCanceledException)
        {
            // The session's max duration ends it anyway; the launch's own exception is the one to surface.
        }
    }

    private Task<BrowserSession> CreateCoreAsync(BrowserConfig config, bool finishInFlightOnCancel, CancellationToken cancellationToken) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, Browsers, RetryRule.Create)
        {
            Content = BoxesTransport.Json(config, BoxesJsonContext.Default.BrowserConfig),
            FinishInFlightOnCancel = finishInFlightOnCancel,
        }, BoxesJsonContext.Default.BrowserSession, cancellationToken);

    private static string Webhook(string id) => "v1/webhooks/" + BoxesTransport.Segment(id, nameof(id));
}
