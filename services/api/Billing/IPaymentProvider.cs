namespace Boxes.Api.Billing;

/// <summary>What the organisation asked to buy, and where the payment page sends it back to.</summary>
/// <param name="IdempotencyKey">The same key for retries of the same purchase, so a provider creates one session for them.</param>
public sealed record CheckoutRequest(Guid OrganizationId, string Plan, string SuccessUrl, string IdempotencyKey);

/// <summary>A payment page's URL, or why there is none (for the log; the client gets a generic 502).</summary>
public sealed record CheckoutOutcome(string? CheckoutUrl, string? Failure)
{
    public static CheckoutOutcome Created(string url) => new(url, null);
    public static CheckoutOutcome Failed(string why) => new(null, why);
}

/// <summary>
/// Sells plans: <c>POST /v1/billing/checkout</c> asks it for a hosted payment page. The plan changes when the provider
/// reports the payment (for Stripe, its <c>checkout.session.completed</c> webhook), never when the page is created.
/// Registered only when configured; without one, checkout answers 501 and the operator sets plans by hand.
/// </summary>
public interface IPaymentProvider
{
    /// <summary>Whether <paramref name="plan"/> can be bought through this provider (for Stripe: it has a price).</summary>
    bool Sells(string plan);

    Task<CheckoutOutcome> CreateCheckoutAsync(CheckoutRequest request, CancellationToken ct);
}
