using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Boxes.Api.Auth;
using Boxes.Api.Errors;
using Boxes.Api.Idempotency;
using Boxes.Contracts;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Boxes.Api.Billing;

/// <summary>
/// <c>GET /v1/billing</c> (the SDK's getBilling), <c>POST /v1/billing/checkout</c> (createCheckout) and the Stripe webhook
/// that completes a checkout (<see cref="StripeWebhook"/>).
/// </summary>
public static class BillingEndpoints
{
    public const int MaxUrlLength = 2048;

    public static IEndpointRouteBuilder MapBillingEndpoints(this IEndpointRouteBuilder app)
    {
        var billing = app.MapGroup("/v1/billing");

        billing.MapGet("", async (HttpContext http, BillingClient service, IOptions<PlanCatalog> plans, NpgsqlDataSource db, TimeProvider clock, CancellationToken ct) =>
        {
            var caller = http.Caller();
            var period = BillingPeriod.MonthOf(clock.GetUtcNow());
            var (seconds, failure) = await service.VcpuSecondsAsync(caller.OrganizationId, period, ct);
            if (failure is not null) return failure.PassThrough();
            var limits = plans.Value.For(caller.Plan);
            return Results.Json(new
            {
                plan = caller.Plan,
                currentPeriod = new { start = period.Start, end = period.End },
                limits = new
                {
                    concurrentBoxes = limits.ConcurrentBoxes,
                    maxDurationMs = limits.MaxDurationMs,
                    // null: no monthly limit (the plan's MonthlyVcpuHours is 0).
                    monthlyVcpuHours = limits.HasMonthlyLimit ? limits.MonthlyVcpuHours : (double?)null,
                    features = new { stealth = limits.Stealth, recording = limits.Recording, dedicatedIsolation = limits.DedicatedIsolation },
                },
                usage = new { vcpuHours = Math.Round(seconds!.Value / 3600, 6), activeBoxes = await ActiveBoxesAsync(db, caller.OrganizationId, ct) },
            }, BoxesJson.Options);
        });

        billing.MapPost("/checkout", async (HttpContext http, IOptions<PlanCatalog> plans, CancellationToken ct) =>
        {
            var caller = http.Caller();
            var (body, unreadable) = await JsonBody.ReadObjectAsync(http.Request, ct);
            if (unreadable is not null) return unreadable;
            var (plan, successUrl, invalid) = ReadCheckout(body);
            if (invalid is not null) return invalid;
            // Checked (1-255 printable ASCII) by the idempotency filter before this runs.
            var idempotency = http.Request.Headers[Idempotency.IdempotencyFilter.HeaderName].ToString();

            if (http.RequestServices.GetService<IPaymentProvider>() is not { } provider)
                return NoCheckout("No payment provider is configured on this platform (Billing:Stripe:SecretKey)");
            var catalog = plans.Value;
            if (plan == caller.Plan)
                return ApiError.Conflict($"plan: this organisation is already on the {plan} plan.");
            if (catalog.For(plan!).Rank < catalog.For(caller.Plan).Rank)
                return ApiError.Conflict($"plan: {plan} is below this organisation's {caller.Plan} plan; checkout only upgrades, the operator changes plans otherwise.");
            if (!provider.Sells(plan!))
                return NoCheckout($"The {plan} plan cannot be bought through checkout here (no price: Billing:Stripe:Prices:{plan})");

            // A retry of the same purchase (the client's Idempotency-Key) reaches the provider with the same key; without
            // one each request is a purchase of its own. Hashed with what is bought, so the key never collides across
            // organisations or purchases.
            var key = "boxes-checkout-" + (idempotency.Length > 0
                ? Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{caller.OrganizationId}\n{plan}\n{successUrl}\n{idempotency}")))
                : Guid.NewGuid().ToString("N"));
            var outcome = await provider.CreateCheckoutAsync(new CheckoutRequest(caller.OrganizationId, plan!, successUrl!, key), ct);
            return outcome.CheckoutUrl is { } url
                ? Results.Json(new { checkoutUrl = url })
                : ApiError.UpstreamUnavailable("The payment provider could not create a checkout session; try again shortly.");
        }).WithIdempotency(); // replays the first answer; the provider key above also covers a retry the API itself could not remember

        app.MapStripeWebhook();
        return app;
    }

    /// <summary><c>{plan, successUrl}</c>: a plan by name and an absolute http(s) URL.</summary>
    public static (string? Plan, string? SuccessUrl, ApiError? Error) ReadCheckout(JsonElement body)
    {
        if (!body.TryGetProperty("plan", out var plan) || plan.ValueKind == JsonValueKind.Null)
            return (null, null, ApiError.Validation("plan: required, one of free, builder, pro, enterprise."));
        if (plan.ValueKind != JsonValueKind.String || !PlanCatalog.Names.Contains(plan.GetString()))
            return (null, null, Fields.Invalid("plan", "one of free, builder, pro, enterprise", plan));
        if (!body.TryGetProperty("successUrl", out var url) || url.ValueKind == JsonValueKind.Null)
            return (null, null, ApiError.Validation("successUrl: required, the absolute http(s) URL the payment page returns to."));
        if (url.ValueKind != JsonValueKind.String) return (null, null, Fields.Invalid("successUrl", "an absolute http(s) URL", url));
        var text = url.GetString()!;
        if (text.Length > MaxUrlLength) return (null, null, ApiError.Validation($"successUrl: longer than {MaxUrlLength} characters."));
        if (!Uri.TryCreate(text, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https") || parsed.Host.Length == 0)
            return (null, null, Fields.Invalid("successUrl", "an absolute http(s) URL", url));
        return (plan.GetString(), text, null);
    }

    private static ApiError NoCheckout(string why) => new(501, "NOT_IMPLEMENTED",
        $"{why}. Until then the operator sets an organisation's plan with PUT /v1/admin/organizations/{{id}}/plan.");

    /// <summary>Boxes not ended or failed, from the list projection: the same count BoxCatalog holds against ConcurrentBoxes.</summary>
    public static async Task<long> ActiveBoxesAsync(NpgsqlDataSource db, Guid organizationId, CancellationToken ct)
    {
        await using var count = db.CreateCommand("SELECT count(*) FROM api.boxes WHERE organization_id = $1 AND status NOT IN ('ended', 'failed')");
        count.Parameters.Add(new() { Value = organizationId });
        return (long)(await count.ExecuteScalarAsync(ct))!;
    }
}
