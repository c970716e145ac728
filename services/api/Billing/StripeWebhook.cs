using System.Text.Json;
using Boxes.Api.Auth;
using Boxes.Api.Errors;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Billing;

/// <summary>
/// <c>POST /v1/billing/stripe/webhook</c>: Stripe tells us a checkout was paid, and the organisation's plan becomes the
/// one in the session's metadata. It carries no API key (Stripe has none of ours): its credential is the
/// <c>Stripe-Signature</c> header (<see cref="StripeSignature"/>, keyed with <c>Billing:Stripe:WebhookSecret</c>, 5 minutes'
/// tolerance), so authentication lets it through without one (<see cref="RouteAuthorization.OwnCredential"/>).
/// <para>
/// Answers: 501 when no webhook secret is configured; 400 for a missing or unreadable <c>Stripe-Signature</c> or a body
/// that is not a JSON event; 401 for a signature that does not verify or is older (or newer) than the tolerance; else
/// 200 <c>{received: true, outcome}</c>, also for events it does not act on (Stripe would otherwise retry them for days).
/// Acted on: <c>checkout.session.completed</c> whose <c>payment_status</c> is not <c>unpaid</c>, and
/// <c>checkout.session.async_payment_succeeded</c>; each event id once (<see cref="StripeEvents"/>).
/// </para>
/// </summary>
public static class StripeWebhook
{
    public const string Path = "/v1/billing/stripe/webhook";
    public const int MaxBodyBytes = 1024 * 1024;

    /// <summary>
    /// Maps the route. It needs no API key because <see cref="RoutePermissions"/> marks it
    /// <see cref="RouteAuthorization.OwnCredential"/>: the signature, checked here, is its credential.
    /// </summary>
    public static IEndpointRouteBuilder MapStripeWebhook(this IEndpointRouteBuilder app)
    {
        app.MapPost(Path, (HttpContext http, CancellationToken ct) => HandleAsync(http, ct));
        return app;
    }

    private static async Task<IResult> HandleAsync(HttpContext http, CancellationToken ct)
    {
        var services = http.RequestServices;
        var stripe = services.GetRequiredService<IOptions<BillingOptions>>().Value.Stripe;
        var logger = services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StripeWebhook));
        if (stripe.WebhookSecret.Length == 0)
            return new ApiError(501, "NOT_IMPLEMENTED", "Stripe webhooks are not configured on this platform (Billing:Stripe:WebhookSecret).");

        var payload = await ReadBodyAsync(http.Request, ct);
        if (payload is null) return new ApiError(413, "VALIDATION_FAILED", $"The body is larger than the {MaxBodyBytes / 1024} KiB a Stripe event may have.");
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow();
        switch (StripeSignature.Verify(http.Request.Headers["Stripe-Signature"].ToString(), payload, stripe.WebhookSecret, now, stripe.WebhookTolerance))
        {
            case StripeSignature.Verdict.Malformed:
                return ApiError.Validation("Stripe-Signature: a header t=<unix seconds>,v1=<hex HMAC-SHA256> is required.");
            case StripeSignature.Verdict.Mismatch:
                logger.LogWarning("A Stripe webhook was refused: its signature does not verify with Billing:Stripe:WebhookSecret");
                return ApiError.Unauthenticated("Stripe-Signature: no v1 signature matches the payload.");
            case StripeSignature.Verdict.OutsideTolerance:
                logger.LogWarning("A Stripe webhook was refused: its signature is valid but its timestamp is more than {Tolerance} from now", stripe.WebhookTolerance);
                return ApiError.Unauthenticated($"Stripe-Signature: the timestamp is more than {stripe.WebhookTolerance.TotalMinutes:0} minutes from now (a replay?).");
        }

        StripeEvent? e;
        try
        {
            e = StripeEvent.Parse(payload);
        }
        catch (JsonException)
        {
            e = null;
        }
        if (e is null) return ApiError.Validation("The body is not a Stripe event (an object with id, type and created).");

        var outcome = await ActAsync(e, services, logger, ct);
        return Results.Json(new { received = true, outcome });
    }

    private static async Task<string> ActAsync(StripeEvent e, IServiceProvider services, ILogger logger, CancellationToken ct)
    {
        var paid = e.Type switch
        {
            "checkout.session.completed" => e.PaymentStatus != "unpaid", // unpaid: an asynchronous payment method, wait for it
            "checkout.session.async_payment_succeeded" => true,
            _ => false,
        };
        if (!paid) return "ignored";
        if (e.OrganizationId is not { } organizationId || e.Plan is not { } plan || !PlanCatalog.Names.Contains(plan))
        {
            // Signed by Stripe, so not an attack; a session this API did not create (or an edited one). Retrying cannot fix it.
            logger.LogWarning("Stripe event {EventId} ({Type}) has no usable metadata organization_id/plan ({Organization}, {Plan}); ignored",
                e.Id, e.Type, e.OrganizationId?.ToString() ?? "none", e.Plan ?? "none");
            return "ignored";
        }
        var outcome = await services.GetRequiredService<StripeEvents>().ApplyPaidCheckoutAsync(e.Id, e.Type, e.Created, organizationId, plan, ct);
        if (outcome == StripeEvents.PlanSet)
            logger.LogInformation("Organisation {OrganizationId} is now on the {Plan} plan (Stripe event {EventId})", organizationId, plan, e.Id);
        else if (outcome == StripeEvents.UnknownOrganization)
            logger.LogWarning("Stripe event {EventId} names organisation {OrganizationId}, which does not exist; ignored", e.Id, organizationId);
        return outcome;
    }

    private static async Task<byte[]?> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBodyBytes) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes) return null;
            buffer.Write(chunk, 0, read);
        }
        return buffer.ToArray();
    }

    /// <summary>The parts of a Stripe event this API reads.</summary>
    private sealed record StripeEvent(string Id, string Type, DateTimeOffset Created, Guid? OrganizationId, string? Plan, string? PaymentStatus)
    {
        public static StripeEvent? Parse(byte[] payload)
        {
            using var doc = JsonDocument.Parse(payload);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object) return null;
            if (Text(root, "id") is not { Length: > 0 } id || Text(root, "type") is not { Length: > 0 } type) return null;
            if (!root.TryGetProperty("created", out var c) || c.ValueKind != JsonValueKind.Number || !c.TryGetInt64(out var created)
                || created is < 0 or > 253402300799)
                return null;
            JsonElement session = default;
            var hasSession = root.TryGetProperty("data", out var data) && data.ValueKind == JsonValueKind.Object
                && data.TryGetProperty("object", out session) && session.ValueKind == JsonValueKind.Object;
            string? organization = null, plan = null, paymentStatus = null;
            if (hasSession)
            {
                if (session.TryGetProperty("metadata", out var metadata) && metadata.ValueKind == JsonValueKind.Object)
                {
                    organization = Text(metadata, "organization_id");
                    plan = Text(metadata, "plan");
                }
                organization ??= Text(session, "client_reference_id");
                paymentStatus = Text(session, "payment_status");
            }
            return new StripeEvent(id, type, DateTimeOffset.FromUnixTimeSeconds(created),
                Guid.TryParse(organization, out var org) ? org : null, plan, paymentStatus);
        }

        private static string? Text(JsonElement o, string name) =>
            o.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
    }
}
