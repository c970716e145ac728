using System.Collections.Concurrent;
using Boxes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Boxes.Api.Tests;

/// <summary>
/// Stands in for Stripe's API on 127.0.0.1, port 0: <c>POST /v1/checkout/sessions</c> answers a checkout session as Stripe
/// does (<c>{id, object: "checkout.session", url, ...}</c>), the same session again for a repeated
/// <c>Idempotency-Key</c>, and Stripe's error shape when <see cref="Respond"/> says so. Every request is recorded as it
/// arrived: method, path, the Authorization and Idempotency-Key headers, the content type and the decoded form.
/// </summary>
public sealed class FakeStripe : IAsyncDisposable
{
    public sealed record Request(string Method, string Path, string? Authorization, string? IdempotencyKey, string? ContentType,
        IReadOnlyDictionary<string, string> Form);

    private LoopbackServer _server = null!;
    private readonly ConcurrentQueue<Request> _requests = new();
    private readonly ConcurrentDictionary<string, string> _sessionsByKey = new();
    private int _count;

    private FakeStripe() { }

    public string BaseUrl => _server.Address;
    public IReadOnlyList<Request> Requests => [.. _requests];

    /// <summary>What to answer the n-th request (1-based) with, when not a session: a status and Stripe's error type. Null: the session.</summary>
    public Func<int, (int Status, string ErrorType)?> Respond { get; set; } = _ => null;

    public static string SessionUrl(string sessionId) => $"https://checkout.stripe.com/c/pay/{sessionId}";

    public static async Task<FakeStripe> StartAsync()
    {
        var fake = new FakeStripe();
        fake._server = await LoopbackServer.StartAsync(app => fake.Map(app));
        return fake;
    }

    private void Map(WebApplication app)
    {
        app.Run(async http =>
        {
            var number = Interlocked.Increment(ref _count);
            var form = http.Request.HasFormContentType
                ? (await http.Request.ReadFormAsync()).ToDictionary(f => f.Key, f => f.Value.ToString())
                : [];
            string? Header(string name) => http.Request.Headers.TryGetValue(name, out var v) ? v.ToString() : null;
            var key = Header("Idempotency-Key");
            _requests.Enqueue(new Request(http.Request.Method, http.Request.Path.Value!, Header("Authorization"), key, http.Request.ContentType, form));
            if (Respond(number) is { } failure)
            {
                http.Response.StatusCode = failure.Status;
                await http.Response.WriteAsJsonAsync(new { error = new { type = failure.ErrorType, message = "Something went wrong (fake).", code = "fake_error" } });
                return;
            }
            if (http.Request.Method != "POST" || http.Request.Path != "/v1/checkout/sessions")
            {
                http.Response.StatusCode = 404;
                await http.Response.WriteAsJsonAsync(new { error = new { type = "invalid_request_error", message = $"Unrecognized request URL ({http.Request.Method}: {http.Request.Path})." } });
                return;
            }
            var id = key is null ? $"cs_test_{Guid.NewGuid():N}" : _sessionsByKey.GetOrAdd(key, _ => $"cs_test_{Guid.NewGuid():N}");
            await http.Response.WriteAsJsonAsync(new Dictionary<string, object?>
            {
                ["id"] = id,
                ["object"] = "checkout.session",
                ["mode"] = form.GetValueOrDefault("mode"),
                ["client_reference_id"] = form.GetValueOrDefault("client_reference_id"),
                ["success_url"] = form.GetValueOrDefault("success_url"),
                ["cancel_url"] = form.GetValueOrDefault("cancel_url"),
                ["payment_status"] = "unpaid",
                ["status"] = "open",
                ["url"] = SessionUrl(id),
            });
        });
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
