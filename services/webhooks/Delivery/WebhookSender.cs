using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using Boxes.Webhooks.Security;
using Boxes.Webhooks.Signing;
using Microsoft.Extensions.Options;

namespace Boxes.Webhooks.Delivery;

/// <summary>Makes one signed attempt at a delivery over the guarded HTTP client and says how it went; never throws for the endpoint's faults.</summary>
public sealed class WebhookSender(HttpClient http, IOptions<WebhooksOptions> options, TimeProvider clock)
{
    public const string ClientName = "webhook-deliveries";
    public const string UserAgent = "Boxes-Webhooks/1";

    /// <summary>
    /// The delivery client: no redirects (a 3xx is a failure: following one would leave the checked URL), no proxy
    /// (the connection goes where the guard said), and every connection made through <see cref="GuardedConnector"/>.
    /// Pooled connections are recycled after a minute, so a name's addresses are checked again regularly.
    /// </summary>
    public static SocketsHttpHandler CreateHandler(GuardedConnector connector) => new()
    {
        AllowAutoRedirect = false,
        UseProxy = false,
        UseCookies = false,
        ConnectCallback = connector.ConnectAsync,
        PooledConnectionLifetime = TimeSpan.FromMinutes(1),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
    };

    public async Task<AttemptOutcome> SendAsync(ClaimedDelivery delivery, CancellationToken stopping)
    {
        var startedAt = clock.GetUtcNow();
        var timestamp = startedAt.ToUnixTimeSeconds();
        var id = delivery.Id.ToString();
        // The previous secret signs too until its 24 hours are up, so receivers can switch at their own pace.
        var previous = delivery.PreviousSecretExpiresAt > startedAt ? delivery.PreviousSecret : null;

        using var request = new HttpRequestMessage(HttpMethod.Post, delivery.Url);
        request.Headers.TryAddWithoutValidation("webhook-id", id);
        request.Headers.TryAddWithoutValidation("webhook-timestamp", timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture));
        request.Headers.TryAddWithoutValidation("webhook-signature", WebhookSignature.Header(delivery.Secret, previous, id, timestamp, delivery.Payload));
        request.Headers.TryAddWithoutValidation("user-agent", UserAgent);
        request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(delivery.Payload));
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");

        var timeout = options.Value.DeliveryTimeout;
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        attempt.CancelAfter(timeout);
        var watch = Stopwatch.StartNew();
        try
        {
            // Headers are the answer: the body is not read (a 2xx is a success whatever it says).
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, attempt.Token);
            var code = (int)response.StatusCode;
            string? error = code switch
            {
                >= 200 and < 300 => null,
                >= 300 and < 400 => $"answered {code} (redirects are not followed{(response.Headers.Location is { } to ? $"; Location: {Shorten(to.ToString())}" : "")})",
                410 => "answered 410 Gone: the endpoint is disabled",
                _ => $"answered {code}{(string.IsNullOrEmpty(response.ReasonPhrase) ? "" : " " + response.ReasonPhrase)}",
            };
            return new AttemptOutcome(startedAt, Elapsed(watch), code, error, RetryPolicy.RetryAfter(response, clock.GetUtcNow()));
        }
        catch (OperationCanceledException) when (!stopping.IsCancellationRequested)
        {
            return new AttemptOutcome(startedAt, Elapsed(watch), null, $"timed out after {WebhooksOptions.Describe(timeout)}", null);
        }
        catch (HttpRequestException ex)
        {
            return new AttemptOutcome(startedAt, Elapsed(watch), null, Describe(ex), null);
        }
    }

    private static int Elapsed(Stopwatch watch) => (int)Math.Min(int.MaxValue, watch.ElapsedMilliseconds);

    private static string Describe(HttpRequestException ex)
    {
        for (Exception? e = ex; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case WebhookTargetRefusedException refused: return Shorten(refused.Message);
                case SocketException { SocketErrorCode: SocketError.ConnectionRefused }: return "connection refused";
                case SocketException socket: return Shorten($"connection failed: {socket.SocketErrorCode}");
                case System.Security.Authentication.AuthenticationException tls: return Shorten($"TLS failed: {tls.Message}");
            }
        }
        return Shorten(ex.HttpRequestError is HttpRequestError.Unknown ? ex.Message : $"{ex.HttpRequestError}: {ex.Message}");
    }

    private static string Shorten(string s) => s.Length > 500 ? s[..500] + "…" : s;
}
