using System.Collections.Concurrent;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Xunit;

namespace Boxes.Testing;

/// <summary>
/// A customer's webhook endpoint: Kestrel on <c>http://127.0.0.1:0</c> (the platform's development allow-list lets the
/// webhooks service reach loopback) that records every request it gets and answers what <see cref="Respond"/> says.
/// Used by the tests against the running platform and by bench/Boxes.Bench, which is why it stamps each arrival with
/// <see cref="Stopwatch.GetTimestamp"/>. <see cref="StandardWebhooks"/> checks a delivery's signature.
/// </summary>
public sealed class WebhookReceiver : IAsyncDisposable
{
    /// <summary>One request as it arrived: the Standard Webhooks headers, the exact body, and when.</summary>
    public sealed record Delivery(int Number, string? WebhookId, string? Timestamp, string? Signature, string Body, JsonObject? Payload,
        long ArrivedAt, int AnsweredWith)
    {
        public string? Type => Payload?["type"] is JsonValue type && type.TryGetValue<string>(out var text) ? text : null;
        /// <summary><c>data.id</c>: the box's id for a box event.</summary>
        public string? BoxId => Payload?["data"] is JsonObject data && data["id"] is JsonValue id && id.TryGetValue<string>(out var text) ? text : null;
        public override string ToString() => $"#{Number} {Type} {BoxId} id={WebhookId} answered {AnsweredWith}";
    }

    private readonly ConcurrentQueue<Delivery> _received = new();
    private LoopbackServer _server = null!;
    private int _count;

    private WebhookReceiver() { }

    /// <summary>The URL to register.</summary>
    public string Url => _server.Address + "/hooks";

    /// <summary>The status to answer the n-th request (1-based) with; 200 unless a test says otherwise.</summary>
    public Func<int, int> Respond { get; set; } = _ => 200;

    /// <summary>Everything received so far, in arrival order.</summary>
    public IReadOnlyList<Delivery> Received => [.. _received.OrderBy(d => d.Number)];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var receiver = new WebhookReceiver();
        receiver._server = await LoopbackServer.StartAsync(app => app.Run(receiver.HandleAsync));
        return receiver;
    }

    private async Task HandleAsync(HttpContext http)
    {
        var arrived = Stopwatch.GetTimestamp();
        var body = await new StreamReader(http.Request.Body).ReadToEndAsync(http.RequestAborted);
        var number = Interlocked.Increment(ref _count);
        var status = Respond(number);
        JsonObject? payload = null;
        try { payload = JsonNode.Parse(body) as JsonObject; } catch (System.Text.Json.JsonException) { }
        string? Header(string name) => http.Request.Headers.TryGetValue(name, out var v) ? v.ToString() : null;
        _received.Enqueue(new Delivery(number, Header("webhook-id"), Header("webhook-timestamp"), Header("webhook-signature"),
            body, payload, arrived, status));
        http.Response.StatusCode = status;
    }

    /// <summary>Waits until a delivery satisfying <paramref name="match"/> has arrived, and returns the first one.</summary>
    public async Task<Delivery> WaitFor(Func<Delivery, bool> match, TimeSpan timeout, string what) =>
        (await WaitForCount(match, 1, timeout, what))[0];

    /// <summary>Waits until <paramref name="count"/> deliveries satisfying <paramref name="match"/> have arrived, and returns them.</summary>
    public async Task<IReadOnlyList<Delivery>> WaitForCount(Func<Delivery, bool> match, int count, TimeSpan timeout, string what)
    {
        try
        {
            return await Eventually.Until(() => Task.FromResult<IReadOnlyList<Delivery>>([.. Received.Where(match)]), d => d.Count >= count, timeout, what);
        }
        catch (TimeoutException ex)
        {
            // What did arrive is what explains a miss (wrong type, wrong box, a retry still pending).
            throw new TimeoutException($"{ex.Message}; {Url} received: [{string.Join("; ", Received)}]", ex);
        }
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

/// <summary>
/// Verifying a delivery as a receiver would, written from the Standard Webhooks specification
/// (https://www.standardwebhooks.com) and independent of the platform's own signer: the secret is <c>whsec_</c> +
/// base64 of the key; the signed content is <c>"{webhook-id}.{webhook-timestamp}.{body}"</c>; each signature is
/// <c>v1,</c> + base64(HMAC-SHA256(key, content)); the header holds one or more, separated by spaces.
/// Checked against the specification's example in tests/Boxes.EndToEnd.Tests (WebhookTestToolTests).
/// </summary>
public static class StandardWebhooks
{
    public static byte[] Key(string secret)
    {
        Assert.StartsWith("whsec_", secret);
        return Convert.FromBase64String(secret["whsec_".Length..]);
    }

    /// <summary>The base64 part of each <c>v1,</c> signature in the header (other versions are not ours to check).</summary>
    public static IReadOnlyList<string> Signatures(string header) =>
        [.. header.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(s => s.StartsWith("v1,", StringComparison.Ordinal)).Select(s => s[3..])];

    /// <summary>The header's signatures that verify with <paramref name="secret"/>.</summary>
    public static IReadOnlyList<string> VerifyingSignatures(string secret, WebhookReceiver.Delivery delivery)
    {
        var expected = HMACSHA256.HashData(Key(secret), Encoding.UTF8.GetBytes($"{delivery.WebhookId}.{delivery.Timestamp}.{delivery.Body}"));
        return [.. Signatures(delivery.Signature ?? "").Where(s => CryptographicOperations.FixedTimeEquals(expected, Decode(s)))];
    }

    private static byte[] Decode(string base64)
    {
        try { return Convert.FromBase64String(base64); }
        catch (FormatException) { return []; }
    }
}
