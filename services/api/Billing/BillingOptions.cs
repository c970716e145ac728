namespace Boxes.Api.Billing;

/// <summary>
/// How the API talks to services/billing and checks the monthly allowance (config section <c>Billing</c>; the address,
/// <c>Billing:Address</c>, is read by <see cref="BillingClient.Address"/>).
/// </summary>
public sealed class BillingOptions
{
    public const string Section = "Billing";

    /// <summary>How long a usage, billing or export request waits for the billing service's answer (headers, for the feed).</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a create waits for this month's usage before it goes ahead without it. Short: a billing service that is
    /// slow must not make every create slow (an unreachable one answers at once).
    /// </summary>
    public TimeSpan LimitCheckTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long an organisation's monthly usage figure is reused for the create check. Usage moves by about a vCPU-second
    /// a second per running box, so a few seconds cost nothing in accuracy, and a burst of creates asks billing once.
    /// </summary>
    public TimeSpan UsageCacheTtl { get; set; } = TimeSpan.FromSeconds(5);

    public StripeOptions Stripe { get; set; } = new();
}

/// <summary>Stripe Checkout (config section <c>Billing:Stripe</c>). Without a secret key there is no payment provider: checkout answers 501.</summary>
public sealed class StripeOptions
{
    public string BaseUrl { get; set; } = "https://api.stripe.com";
    /// <summary>The secret API key (<c>sk_live_...</c>/<c>sk_test_...</c>).</summary>
    public string SecretKey { get; set; } = "";
    /// <summary>The webhook endpoint's signing secret (<c>whsec_...</c>); without it the webhook route answers 501.</summary>
    public string WebhookSecret { get; set; } = "";
    /// <summary>The Stripe price id (<c>price_...</c>) of each plan that can be bought: <c>Billing:Stripe:Prices:pro</c>.</summary>
    public Dictionary<string, string> Prices { get; set; } = new(StringComparer.Ordinal);
    /// <summary>Where Stripe sends a customer who cancels; the request's successUrl when not set.</summary>
    public string? CancelUrl { get; set; }
    /// <summary>How long one call to Stripe may take.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);
    /// <summary>How far a webhook's signed timestamp may be from now (Stripe's libraries use 5 minutes).</summary>
    public TimeSpan WebhookTolerance { get; set; } = TimeSpan.FromMinutes(5);

    public bool CheckoutConfigured => SecretKey.Length > 0;
}
