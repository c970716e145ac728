using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Billing;

/// <summary>
/// Stripe Checkout: <c>POST {Billing:Stripe:BaseUrl}/v1/checkout/sessions</c>, form-encoded, a subscription to the plan's
/// price (<c>Billing:Stripe:Prices:&lt;plan&gt;</c>) with the organisation in <c>client_reference_id</c> and in the
/// session's metadata (<c>organization_id</c>, <c>plan</c>), which the webhook reads back
/// (<see cref="StripeWebhook"/>). Authenticated with the secret key; every attempt of one purchase carries the same
/// <c>Idempotency-Key</c>, so a retry after a lost answer gets the same session rather than a second one.
/// </summary>
public sealed class StripeCheckoutProvider(HttpClient http, IOptions<BillingOptions> options, ILogger<StripeCheckoutProvider> logger) : IPaymentProvider
{
    /// <summary>Attempts per checkout: a connection failure, a timeout, 429 or 5xx is tried again (Stripe's own advice, with the same key).</summary>
    public const int MaxAttempts = 3;

    private StripeOptions Stripe => options.Value.Stripe;

    public static void Configure(HttpClient http, StripeOptions stripe)
    {
        var address = stripe.BaseUrl is { Length: > 0 } b ? b : "https://api.stripe.com";
        if (!Uri.TryCreate(address.EndsWith('/') ? address : address + "/", UriKind.Absolute, out var baseAddress) || baseAddress.Scheme is not ("http" or "https"))
            throw new InvalidOperationException($"Billing:Stripe:BaseUrl must be an http(s) URL such as https://api.stripe.com, not '{address}'.");
        http.BaseAddress = baseAddress;
        http.Timeout = stripe.Timeout;
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", stripe.SecretKey);
    }

    public bool Sells(string plan) => Stripe.Prices.TryGetValue(plan, out var price) && price.Length > 0;

    public async Task<CheckoutOutcome> CreateCheckoutAsync(CheckoutRequest request, CancellationToken ct)
    {
        if (!Stripe.Prices.TryGetValue(request.Plan, out var price) || price.Length == 0)
            return CheckoutOutcome.Failed($"no price is configured for the {request.Plan} plan (Billing:Stripe:Prices:{request.Plan})");
        var form = new KeyValuePair<string, string>[]
        {
            new("mode", "subscription"),
            new("line_items[0][price]", price),
            new("line_items[0][quantity]", "1"),
            new("success_url", request.SuccessUrl),
            new("cancel_url", Stripe.CancelUrl is { Length: > 0 } cancel ? cancel : request.SuccessUrl),
            new("client_reference_id", request.OrganizationId.ToString()),
            new("metadata[organization_id]", request.OrganizationId.ToString()),
            new("metadata[plan]", request.Plan),
        };

        for (var attempt = 1; ; attempt++)
        {
            using var message = new HttpRequestMessage(HttpMethod.Post, "v1/checkout/sessions") { Content = new FormUrlEncodedContent(form) };
            message.Headers.Add("Idempotency-Key", request.IdempotencyKey);
            string? retryable;
            try
            {
                using var response = await http.SendAsync(message, ct);
                var body = await response.Content.ReadAsStringAsync(ct);
                if (response.IsSuccessStatusCode)
                {
                    var url = ReadString(body, "url");
                    if (url is not null && Uri.TryCreate(url, UriKind.Absolute, out var page) && page.Scheme is "https" or "http")
                    {
                        logger.LogInformation("Stripe checkout session {SessionId} created for organisation {OrganizationId} (plan {Plan})",
                            ReadString(body, "id"), request.OrganizationId, request.Plan);
                        return CheckoutOutcome.Created(url);
                    }
                    return Fail($"Stripe answered {(int)response.StatusCode} without a session url");
                }
                if (response.StatusCode is not (HttpStatusCode.TooManyRequests or >= HttpStatusCode.InternalServerError))
                    return Fail($"Stripe refused the checkout session with {(int)response.StatusCode}: {ReadError(body)}");
                retryable = $"Stripe answered {(int)response.StatusCode}: {ReadError(body)}";
            }
            catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or OperationCanceledException)
            {
                retryable = ex is OperationCanceledException ? $"Stripe did not answer within {http.Timeout.TotalSeconds:0} s" : $"Stripe could not be reached: {ex.Message}";
            }
            if (attempt == MaxAttempts) return Fail(retryable + $" (after {MaxAttempts} attempts)");
            logger.LogWarning("Creating a Stripe checkout session for organisation {OrganizationId} failed ({Reason}); trying again with the same idempotency key",
                request.OrganizationId, retryable);
            await Task.Delay(TimeSpan.FromMilliseconds(250 * attempt), ct);
        }

        CheckoutOutcome Fail(string why)
        {
            logger.LogError("Creating a Stripe checkout session for organisation {OrganizationId} (plan {Plan}) failed: {Reason}", request.OrganizationId, request.Plan, why);
            return CheckoutOutcome.Failed(why);
        }
    }

    private static string? ReadString(string json, string property)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            return doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty(property, out var v) && v.ValueKind == JsonValueKind.String
                ? v.GetString()
                : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>Stripe's <c>{"error": {"type", "code", "message"}}</c> for the log.</summary>
    private static string ReadError(string json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.Object)
                return string.Join("; ", new[] { "type", "code", "message" }
                    .Where(n => e.TryGetProperty(n, out var v) && v.ValueKind == JsonValueKind.String).Select(n => $"{n} {e.GetProperty(n).GetString()}"));
        }
        catch (JsonException)
        {
        }
        return json.Length > 200 ? json[..200] + "…" : json;
    }
}
