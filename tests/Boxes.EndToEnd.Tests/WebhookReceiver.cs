using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text.Json.Nodes;
using Boxes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Boxes.EndToEnd.Tests;

/// <summary>
/// A customer's webhook endpoint: Kestrel on <c>http://127.0.0.1:0</c> (the platform's development allow-list lets the
/// webhooks service reach loopback) that records every request it gets and answers what <see cref="Respond"/> says.
/// Also used by bench/Boxes.Bench, which is why it stamps each arrival with <see cref="Stopwatch.GetTimestamp"/>.
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

    private readonly WebApplication _app;
    private readonly ConcurrentQueue<Delivery> _received = new();
    private int _count;

    private WebhookReceiver(WebApplication app) => _app = app;

    /// <summary>The URL to register.</summary>
    public string Url { get; private set; } = "";

    /// <summary>The status to answer the n-th request (1-based) with; 200 unless a test says otherwise.</summary>
    public Func<int, int> Respond { get; set; } = _ => 200;

    /// <summary>Everything received so far, in arrival order.</summary>
    public IReadOnlyList<Delivery> Received => [.. _received.OrderBy(d => d.Number)];

    public static async Task<WebhookReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var receiver = new WebhookReceiver(app);
        app.Run(async http =>
        {
            var arrived = Stopwatch.GetTimestamp();
            var body = await new StreamReader(http.Request.Body).ReadToEndAsync(http.RequestAborted);
            var number = Interlocked.Increment(ref receiver._count);
            var status = receiver.Respond(number);
            JsonObject? payload = null;
            try { payload = JsonNode.Parse(body) as JsonObject; } catch (System.Text.Json.JsonException) { }
            string? Header(string name) => http.Request.Headers.TryGetValue(name, out var v) ? v.ToString() : null;
            receiver._received.Enqueue(new Delivery(number, Header("webhook-id"), Header("webhook-timestamp"), Header("webhook-signature"),
                body, payload, arrived, status));
            http.Response.StatusCode = status;
        });
        await app.StartAsync();
        receiver.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/hooks";
        return receiver;
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

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
