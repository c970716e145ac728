using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Boxes.Api.Billing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>
/// Checkout through Stripe: the request <see cref="StripeCheckoutProvider"/> makes (checked by a stand-in Stripe on
/// loopback: method, path, secret key, form fields, idempotency key), its retries, and <c>POST /v1/billing/checkout</c>
/// with the provider configured (the session URL back, plans that cannot be bought, Stripe refusing).
/// </summary>
public sealed class StripeCheckoutTests(StripeHost stripe) : IClassFixture<StripeHost>, IAsyncLifetime
{
    private const string SuccessUrl = "https://app.example.com/billing/success?from=boxes";

    public Task InitializeAsync()
    {
        stripe.Stripe.Respond = _ => null;
        return Task.CompletedTask;
    }

    public Task DisposeAsync()
    {
        stripe.Stripe.Respond = _ => null;
        return Task.CompletedTask;
    }

    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();
    private static string ErrorCode(JsonObject body) => body["error"]!["code"]!.GetValue<string>();

    private StripeCheckoutProvider Provider(Action<StripeOptions>? configure = null)
    {
        var options = new BillingOptions();
        options.Stripe.BaseUrl = stripe.Stripe.BaseUrl;
        options.Stripe.SecretKey = StripeHost.SecretKey;
        foreach (var (plan, price) in StripeHost.Prices) options.Stripe.Prices[plan] = price;
        configure?.Invoke(options.Stripe);
        var http = new HttpClient();
        StripeCheckoutProvider.Configure(http, options.Stripe);
        return new StripeCheckoutProvider(http, Options.Create(options), NullLogger<StripeCheckoutProvider>.Instance);
    }

    private async Task<(HttpClient Http, Guid OrgId)> Org(string plan)
    {
        var (id, key) = await stripe.Host.CreateOrganization(plan);
        return (stripe.Client(key), id);
    }

    private FakeStripe.Request[] RequestsWithKey(string idempotencyKey) => [.. stripe.Stripe.Requests.Where(r => r.IdempotencyKey == idempotencyKey)];

    [Fact]
    public async Task The_provider_posts_a_form_encoded_subscription_session_with_the_secret_key_and_the_idempotency_key()
    {
        var org = Guid.NewGuid();
        var key = "boxes-checkout-" + Guid.NewGuid().ToString("N");
        var outcome = await Provider().CreateCheckoutAsync(new CheckoutRequest(org, "pro", SuccessUrl, key), CancellationToken.None);

        var sent = Assert.Single(RequestsWithKey(key));
        Assert.Equal(("POST", "/v1/checkout/sessions"), (sent.Method, sent.Path));
        Assert.Equal("Bearer " + StripeHost.SecretKey, sent.Authorization);
        Assert.StartsWith("application/x-www-form-urlencoded", sent.ContentType);
        Assert.Equal(new Dictionary<string, string>
        {
            ["mode"] = "subscription",
            ["line_items[0][price]"] = "price_pro_m",
            ["line_items[0][quantity]"] = "1",
            ["success_url"] = SuccessUrl,
            ["cancel_url"] = SuccessUrl, // no Billing:Stripe:CancelUrl: back to where the customer came from
            ["client_reference_id"] = org.ToString(),
            ["metadata[organization_id]"] = org.ToString(),
            ["metadata[plan]"] = "pro",
        }, sent.Form);
        Assert.NotNull(outcome.CheckoutUrl);
        Assert.StartsWith("https://checkout.stripe.com/c/pay/cs_test_", outcome.CheckoutUrl);
        Assert.Null(outcome.Failure);
    }

    [Fact]
    public async Task A_configured_cancel_url_is_sent_instead_of_the_success_url()
    {
        var key = "k-" + Guid.NewGuid();
        await Provider(s => s.CancelUrl = "https://app.example.com/billing/cancelled").CreateCheckoutAsync(
            new CheckoutRequest(Guid.NewGuid(), "builder", SuccessUrl, key), CancellationToken.None);
        var sent = Assert.Single(RequestsWithKey(key));
        Assert.Equal("https://app.example.com/billing/cancelled", sent.Form["cancel_url"]);
        Assert.Equal("price_builder_m", sent.Form["line_items[0][price]"]);
    }

    [Fact]
    public async Task A_5xx_or_429_is_tried_again_with_the_same_idempotency_key_and_a_4xx_is_not()
    {
        var key = "k-" + Guid.NewGuid();
        var first = stripe.Stripe.Requests.Count + 1;
        stripe.Stripe.Respond = n => n == first ? (500, "api_error") : n == first + 1 ? (429, "rate_limit_error") : null;
        var outcome = await Provider().CreateCheckoutAsync(new CheckoutRequest(Guid.NewGuid(), "pro", SuccessUrl, key), CancellationToken.None);
        Assert.NotNull(outcome.CheckoutUrl);
        Assert.Equal(3, RequestsWithKey(key).Length);

        var refusedKey = "k-" + Guid.NewGuid();
        stripe.Stripe.Respond = _ => (400, "invalid_request_error");
        var refused = await Provider().CreateCheckoutAsync(new CheckoutRequest(Guid.NewGuid(), "pro", SuccessUrl, refusedKey), CancellationToken.None);
        Assert.Null(refused.CheckoutUrl);
        Assert.Contains("400", refused.Failure);
        Assert.Single(RequestsWithKey(refusedKey));

        var downKey = "k-" + Guid.NewGuid();
        stripe.Stripe.Respond = _ => (503, "api_error");
        var down = await Provider().CreateCheckoutAsync(new CheckoutRequest(Guid.NewGuid(), "pro", SuccessUrl, downKey), CancellationToken.None);
        Assert.Null(down.CheckoutUrl);
        Assert.Equal(StripeCheckoutProvider.MaxAttempts, RequestsWithKey(downKey).Length);
    }

    [Fact]
    public async Task Checkout_answers_the_sessions_url_and_leaves_the_plan_until_stripe_reports_the_payment()
    {
        var (http, orgId) = await Org("free");
        var res = await http.PostAsJsonAsync("/v1/billing/checkout", new { plan = "pro", successUrl = SuccessUrl });
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var body = await Json(res);
        Assert.Equal(["checkoutUrl"], body.Select(p => p.Key));
        var sent = stripe.Stripe.Requests.Last(r => r.Form.GetValueOrDefault("client_reference_id") == orgId.ToString());
        Assert.Equal(("pro", "price_pro_m", orgId.ToString()), (sent.Form["metadata[plan]"], sent.Form["line_items[0][price]"], sent.Form["metadata[organization_id]"]));
        Assert.Equal(SuccessUrl, sent.Form["success_url"]);
        Assert.Equal("Bearer " + StripeHost.SecretKey, sent.Authorization);
        Assert.StartsWith("boxes-checkout-", sent.IdempotencyKey);
        Assert.StartsWith("https://checkout.stripe.com/c/pay/cs_test_", body["checkoutUrl"]!.GetValue<string>());
        Assert.Equal("free", (await Json(await http.GetAsync("/v1/billing")))["plan"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_repeated_idempotency_key_gets_the_same_session_and_requests_without_one_get_their_own()
    {
        var (http, orgId) = await Org("builder");
        async Task<(string Url, string Key)> Checkout(string? idempotencyKey)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/v1/billing/checkout") { Content = JsonContent.Create(new { plan = "pro", successUrl = SuccessUrl }) };
            if (idempotencyKey is not null) request.Headers.Add("Idempotency-Key", idempotencyKey);
            var res = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.OK, res.StatusCode);
            var sent = stripe.Stripe.Requests.Last(r => r.Form.GetValueOrDefault("client_reference_id") == orgId.ToString());
            return ((await Json(res))["checkoutUrl"]!.GetValue<string>(), sent.IdempotencyKey!);
        }

        var a = await Checkout("retry-me");
        var b = await Checkout("retry-me");
        Assert.Equal(a, b);
        Assert.DoesNotContain("retry-me", a.Key); // scoped to the organisation and the purchase, not the client's raw key
        var c = await Checkout(null);
        var d = await Checkout(null);
        Assert.NotEqual(c.Key, d.Key);
        Assert.NotEqual(c.Url, d.Url);
    }

    [Fact]
    public async Task The_current_plan_or_a_lower_one_is_a_conflict_and_stripe_is_not_asked()
    {
        var (http, orgId) = await Org("pro");
        foreach (var plan in new[] { "pro", "builder", "free" })
        {
            var res = await http.PostAsJsonAsync("/v1/billing/checkout", new { plan, successUrl = SuccessUrl });
            Assert.Equal(HttpStatusCode.Conflict, res.StatusCode);
            var error = await Json(res);
            Assert.Equal("CONFLICT", ErrorCode(error));
            Assert.StartsWith("plan:", error["error"]!["message"]!.GetValue<string>());
        }
        Assert.DoesNotContain(stripe.Stripe.Requests, r => r.Form.GetValueOrDefault("client_reference_id") == orgId.ToString());
    }

    [Fact]
    public async Task A_plan_without_a_price_is_501_and_stripe_refusing_is_502()
    {
        var (http, _) = await Org("pro");
        var noPrice = await http.PostAsJsonAsync("/v1/billing/checkout", new { plan = "enterprise", successUrl = SuccessUrl });
        Assert.Equal((HttpStatusCode)501, noPrice.StatusCode);
        var error = await Json(noPrice);
        Assert.Equal("NOT_IMPLEMENTED", ErrorCode(error));
        Assert.Contains("Billing:Stripe:Prices:enterprise", error["error"]!["message"]!.GetValue<string>());

        var (free, _) = await Org("free");
        stripe.Stripe.Respond = _ => (400, "invalid_request_error");
        var refused = await free.PostAsJsonAsync("/v1/billing/checkout", new { plan = "builder", successUrl = SuccessUrl });
        Assert.Equal(HttpStatusCode.BadGateway, refused.StatusCode);
        Assert.Equal("UPSTREAM_UNAVAILABLE", ErrorCode(await Json(refused)));
    }

    [Fact]
    public async Task Stripe_is_configured_only_where_the_secret_key_is()
    {
        var (_, key) = await stripe.Host.CreateOrganization("free");
        var res = await stripe.Host.Client(key).PostAsJsonAsync("/v1/billing/checkout", new { plan = "pro", successUrl = SuccessUrl });
        Assert.Equal((HttpStatusCode)501, res.StatusCode);
    }
}
