namespace Boxes.Api.Billing;

public static class BillingRegistration
{
    /// <summary>
    /// The billing service's client (<c>Billing:Address</c>, default <c>http://127.0.0.1:8083</c>, checked at startup), the
    /// monthly allowance check, the Stripe webhook's event log, and Stripe Checkout when <c>Billing:Stripe:SecretKey</c> is set.
    /// </summary>
    public static IHostApplicationBuilder AddBilling(this IHostApplicationBuilder builder)
    {
        var configuration = builder.Configuration;
        BillingClient.Address(configuration);
        builder.Services.Configure<BillingOptions>(configuration.GetSection(BillingOptions.Section));
        // Direct connections on the private network, redirects not followed, a quick verdict on a dead service: as for workers.
        builder.Services.AddHttpClient<BillingClient>((sp, http) => BillingClient.Configure(http, sp.GetRequiredService<IConfiguration>()))
            .ConfigurePrimaryHttpMessageHandler(Sandboxes.WorkerDataPlane.CreateHandler);
        builder.Services.AddSingleton<MonthlyAllowance>();
        builder.Services.AddSingleton<StripeEvents>();

        var stripe = configuration.GetSection(BillingOptions.Section).Get<BillingOptions>()?.Stripe ?? new StripeOptions();
        if (stripe.CheckoutConfigured)
        {
            builder.Services.AddHttpClient<StripeCheckoutProvider>((sp, http) =>
                StripeCheckoutProvider.Configure(http, sp.GetRequiredService<Microsoft.Extensions.Options.IOptions<BillingOptions>>().Value.Stripe));
            builder.Services.AddTransient<IPaymentProvider>(sp => sp.GetRequiredService<StripeCheckoutProvider>());
        }
        return builder;
    }
}
