using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>
/// The API with Stripe configured (<see cref="Api"/>): Billing:Stripe:BaseUrl at a <see cref="FakeStripe"/>, a secret key,
/// prices for builder and pro (none for enterprise), a webhook secret. <see cref="Host"/> is the same database and broker
/// with no Stripe settings at all.
/// </summary>
public sealed class StripeHost : IAsyncLifetime
{
    public const string SecretKey = "sk_test_boxes_fake_0123456789";
    public const string WebhookSecret = "whsec_boxes_fake_0123456789abcdef";
    public static readonly IReadOnlyDictionary<string, string> Prices = new Dictionary<string, string> { ["builder"] = "price_builder_m", ["pro"] = "price_pro_m" };

    public ApiHost Host { get; } = new();
    public FakeStripe Stripe { get; private set; } = null!;
    public WebApplicationFactory<Program> Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Host.InitializeAsync();
        Stripe = await FakeStripe.StartAsync();
        Api = Host.Factory.WithWebHostBuilder(web =>
        {
            web.UseSetting("Billing:Stripe:BaseUrl", Stripe.BaseUrl);
            web.UseSetting("Billing:Stripe:SecretKey", SecretKey);
            web.UseSetting("Billing:Stripe:WebhookSecret", WebhookSecret);
            foreach (var (plan, price) in Prices) web.UseSetting($"Billing:Stripe:Prices:{plan}", price);
        });
        _ = Api.Server;
    }

    public HttpClient Client(string? key = null)
    {
        var http = Api.CreateClient();
        if (key is not null) http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    public async Task DisposeAsync()
    {
        await Api.DisposeAsync();
        await Stripe.DisposeAsync();
        await Host.DisposeAsync();
    }
}
