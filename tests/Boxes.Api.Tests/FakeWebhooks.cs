using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Boxes.Api.Tests;

/// <summary>
/// Stands in for services/webhooks' internal surface (docs/INTERNAL.md, "Webhooks"): endpoints and deliveries in
/// memory, scoped by the organisation in the path as the real service scopes them. Its answers carry a
/// <c>servedBy</c> field the real one does not, so tests can see that the API passes bodies through rather than
/// rebuilding them. A URL containing <c>169.254.</c> or an event type <c>no.such</c> is refused as the real guard
/// and type check would. Every request is recorded; one without the internal key is refused and counted.
/// </summary>
public sealed class FakeWebhooks : IAsyncDisposable
{
    /// <summary>How the fake misbehaves, for the tests of what the API does when the service does not keep its contract.</summary>
    public enum Behaviour { Normal, Hang, BareNotFound }

    public sealed record Request(string Method, string Path, string Query, JsonObject? Body, bool WithKey);

    private sealed record Endpoint(Guid Id, Guid Org, string Url, JsonArray EventTypes, string Status, DateTimeOffset CreatedAt)
    {
        public List<Guid> Deliveries { get; } = [];
    }

    private LoopbackServer _server = null!;
    private readonly ConcurrentDictionary<(Guid Org, Guid Id), Endpoint> _endpoints = new();
    private readonly ConcurrentQueue<Request> _requests = new();

    private FakeWebhooks() { }

    public string Address => _server.Address;
    public Behaviour Mode { get; set; } = Behaviour.Normal;
    /// <summary>Everything that reached the service, in order.</summary>
    public IReadOnlyList<Request> Requests => [.. _requests];
    public int RequestsWithoutKey => _requests.Count(r => !r.WithKey);

    /// <summary>Disables an endpoint as a 410 from its receiver would (the API has no route that does it).</summary>
    public void Disable(Guid org, Guid id) => _endpoints[(org, id)] = _endpoints[(org, id)] with { Status = "disabled" };

    public static async Task<FakeWebhooks> StartAsync(string internalKey)
    {
        var fake = new FakeWebhooks();
        fake._server = await LoopbackServer.StartAsync(app => fake.Map(app, internalKey));
        return fake;
    }

    private void Map(WebApplication app, string internalKey)
    {
        app.Use(async (http, next) =>
        {
            var withKey = http.Request.Headers[InternalApi.HeaderName] == internalKey;
            var text = await new StreamReader(http.Request.Body).ReadToEndAsync();
            _requests.Enqueue(new Request(http.Request.Method, http.Request.Path.Value!, http.Request.QueryString.Value ?? "",
                text.Length == 0 ? null : JsonNode.Parse(text)?.AsObject(), withKey));
            if (!withKey)
            {
                http.Response.StatusCode = 401;
                await http.Response.WriteAsJsonAsync(new { error = new { code = "UNAUTHENTICATED", message = "internal key required" } });
                return;
            }
            switch (Mode)
            {
                case Behaviour.Hang:
                    try { await Task.Delay(Timeout.Infinite, http.RequestAborted); } catch (OperationCanceledException) { }
                    return;
                case Behaviour.BareNotFound:
                    http.Response.StatusCode = 404; // what a webhooks service without these routes answers
                    return;
            }
            // The body was read above for the record: give the handlers a fresh copy.
            http.Request.Body = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
            await next(http);
        });

        var org = app.MapGroup("/internal/organizations/{org:guid}/webhooks");
        org.MapPost("", async (Guid org, HttpContext http) =>
        {
            var body = (await http.Request.ReadFromJsonAsync<JsonObject>())!;
            var url = body["url"]!.GetValue<string>();
            if (url.Contains("169.254.", StringComparison.Ordinal))
                return Error(400, "VALIDATION_FAILED", "url: the address 169.254.169.254 is link-local and may not receive webhooks.");
            if (body["eventTypes"]!.AsArray().Any(t => t!.GetValue<string>() == "no.such"))
                return Error(400, "VALIDATION_FAILED", "eventTypes[0]: unknown event type \"no.such\".");
            var endpoint = new Endpoint(Guid.NewGuid(), org, url, body["eventTypes"]!.AsArray().DeepClone().AsArray(), "active", DateTimeOffset.UtcNow);
            _endpoints[(org, endpoint.Id)] = endpoint;
            var shown = Render(endpoint);
            shown["signingSecret"] = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24));
            return Results.Json(shown, statusCode: 201);
        });
        org.MapGet("", (Guid org) =>
            Results.Json(new JsonObject { ["items"] = new JsonArray([.. _endpoints.Values.Where(e => e.Org == org).OrderBy(e => e.CreatedAt).Select(Render)]), ["servedBy"] = "fake-webhooks" }));
        org.MapGet("/{id:guid}", (Guid org, Guid id) =>
            _endpoints.TryGetValue((org, id), out var e) ? Results.Json(Render(e)) : NotFound(id));
        org.MapDelete("/{id:guid}", (Guid org, Guid id) =>
            _endpoints.TryRemove((org, id), out _) ? Results.Json(new { id, deleted = true, servedBy = "fake-webhooks" }) : NotFound(id));
        org.MapPost("/{id:guid}/test", (Guid org, Guid id) =>
        {
            if (!_endpoints.TryGetValue((org, id), out var e)) return NotFound(id);
            var delivery = Guid.NewGuid();
            lock (e.Deliveries) e.Deliveries.Add(delivery);
            return Results.Json(new { deliveryId = delivery, servedBy = "fake-webhooks" }, statusCode: 202);
        });
        org.MapPost("/{id:guid}/rotate-secret", (Guid org, Guid id) =>
            _endpoints.ContainsKey((org, id))
                ? Results.Json(new
                {
                    signingSecret = "whsec_" + Convert.ToBase64String(RandomNumberGenerator.GetBytes(24)),
                    previousSecretExpiresAt = DateTimeOffset.UtcNow.AddHours(24),
                    servedBy = "fake-webhooks",
                })
                : NotFound(id));
        org.MapPost("/{id:guid}/enable", (Guid org, Guid id) =>
        {
            if (!_endpoints.TryGetValue((org, id), out var e)) return NotFound(id);
            _endpoints[(org, id)] = e = e with { Status = "active" };
            return Results.Json(Render(e));
        });
        org.MapGet("/{id:guid}/deliveries", (Guid org, Guid id) =>
        {
            if (!_endpoints.TryGetValue((org, id), out var e)) return NotFound(id);
            List<Guid> deliveries;
            lock (e.Deliveries) deliveries = [.. e.Deliveries];
            var items = deliveries.AsEnumerable().Reverse().Select(d => new JsonObject
            {
                ["deliveryId"] = d.ToString(), ["eventId"] = Guid.NewGuid().ToString(), ["type"] = "webhook.test", ["status"] = "failed",
                ["createdAt"] = DateTimeOffset.UtcNow.ToString("O"), ["nextAttemptAt"] = null,
                ["attempts"] = new JsonArray(new JsonObject { ["attempt"] = 1, ["at"] = DateTimeOffset.UtcNow.ToString("O"), ["statusCode"] = 500, ["error"] = null, ["durationMs"] = 4 }),
            });
            return Results.Json(new JsonObject { ["items"] = new JsonArray([.. items]), ["nextCursor"] = "fake-cursor/+=", ["servedBy"] = "fake-webhooks" });
        });
        org.MapPost("/{id:guid}/deliveries/{delivery:guid}/replay", (Guid org, Guid id, Guid delivery) =>
        {
            if (!_endpoints.TryGetValue((org, id), out var e)) return NotFound(id);
            lock (e.Deliveries)
                if (!e.Deliveries.Contains(delivery)) return Error(404, "NOT_FOUND", $"Delivery {delivery} was not found.");
            return Results.Json(new { deliveryId = delivery, servedBy = "fake-webhooks" }, statusCode: 202);
        });
    }

    private static JsonObject Render(Endpoint e) => new()
    {
        ["id"] = e.Id.ToString(), ["url"] = e.Url, ["eventTypes"] = e.EventTypes.DeepClone(), ["status"] = e.Status,
        ["createdAt"] = e.CreatedAt.ToString("O"), ["disabledAt"] = null, ["disabledReason"] = null, ["servedBy"] = "fake-webhooks",
    };

    private static IResult NotFound(Guid id) => Error(404, "NOT_FOUND", $"Webhook {id} was not found.");

    private static IResult Error(int status, string code, string message) => Results.Json(new { error = new { code, message } }, statusCode: status);

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
