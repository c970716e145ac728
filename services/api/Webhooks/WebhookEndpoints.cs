using Boxes.Api.Auth;
using Boxes.Api.Errors;
using Boxes.Api.Idempotency;

namespace Boxes.Api.Webhooks;

/// <summary>
/// <c>/v1/webhooks</c>: the SDK's createWebhook, listWebhooks, testWebhook and deleteWebhook, plus the endpoint's
/// secret rotation, re-enabling, deliveries log and replay. The webhooks service owns endpoints and deliveries: each
/// route checks what is cheap to check here, then forwards to the service with the caller's organisation in the path
/// and passes its answer through unchanged (docs/INTERNAL.md, "Webhooks").
/// </summary>
public static class WebhookEndpoints
{
    public static IEndpointRouteBuilder MapWebhookEndpoints(this IEndpointRouteBuilder app)
    {
        var webhooks = app.MapGroup("/v1/webhooks");

        webhooks.MapPost("", async (HttpContext http, WebhooksClient service, CancellationToken ct) =>
        {
            var (body, unreadable) = await JsonBody.ReadObjectAsync(http.Request, ct);
            if (unreadable is not null) return unreadable;
            var (forward, invalid) = WebhookRequests.Create(body);
            if (invalid is not null) return invalid;
            return (await service.SendAsync(HttpMethod.Post, http.Caller().OrganizationId, "", forward, ct)).PassThrough();
        }).WithIdempotency();

        webhooks.MapGet("", async (HttpContext http, WebhooksClient service, CancellationToken ct) =>
            (await service.SendAsync(HttpMethod.Get, http.Caller().OrganizationId, "", null, ct)).PassThrough());

        webhooks.MapGet("/{id}", (string id, HttpContext http, CancellationToken ct) => ForwardAsync(http, HttpMethod.Get, id, "", ct));
        webhooks.MapDelete("/{id}", (string id, HttpContext http, CancellationToken ct) => ForwardAsync(http, HttpMethod.Delete, id, "", ct));
        webhooks.MapPost("/{id}/test", (string id, HttpContext http, CancellationToken ct) => ForwardAsync(http, HttpMethod.Post, id, "/test", ct));
        webhooks.MapPost("/{id}/rotate-secret", (string id, HttpContext http, CancellationToken ct) => ForwardAsync(http, HttpMethod.Post, id, "/rotate-secret", ct));
        webhooks.MapPost("/{id}/enable", (string id, HttpContext http, CancellationToken ct) => ForwardAsync(http, HttpMethod.Post, id, "/enable", ct));

        webhooks.MapGet("/{id}/deliveries", (string id, HttpContext http, CancellationToken ct) =>
        {
            var (query, invalid) = WebhookRequests.DeliveriesQuery(http.Request.Query);
            return invalid is not null ? Task.FromResult<IResult>(invalid) : ForwardAsync(http, HttpMethod.Get, id, "/deliveries" + query, ct);
        });

        webhooks.MapPost("/{id}/deliveries/{deliveryId}/replay", (string id, string deliveryId, HttpContext http, CancellationToken ct) =>
            Guid.TryParse(deliveryId, out var delivery)
                ? ForwardAsync(http, HttpMethod.Post, id, $"/deliveries/{delivery}/replay", ct)
                : Task.FromResult<IResult>(ApiError.NotFound($"Delivery {deliveryId} of webhook {id}")));
        return app;
    }

    /// <summary>
    /// A route on one webhook. An id that is not a GUID cannot name one, so it is the same 404 as an unknown id and
    /// never reaches the service (nor can it smuggle a path segment into the internal route).
    /// </summary>
    private static async Task<IResult> ForwardAsync(HttpContext http, HttpMethod method, string id, string route, CancellationToken ct)
    {
        if (!Guid.TryParse(id, out var webhookId)) return NotFound(id);
        var service = http.RequestServices.GetRequiredService<WebhooksClient>();
        return (await service.SendAsync(method, http.Caller().OrganizationId, $"/{webhookId}{route}", null, ct)).PassThrough();
    }

    public static ApiError NotFound(string id) => ApiError.NotFound($"Webhook {id}");
}
