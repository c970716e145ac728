using System.Text.Json;
using Boxes.Contracts;
using Boxes.ServiceDefaults;
using Boxes.Webhooks.Delivery;
using Boxes.Webhooks.Events;
using Boxes.Webhooks.Security;
using Boxes.Webhooks.Subscriptions;
using Microsoft.Extensions.Options;

namespace Boxes.Webhooks.Api;

/// <summary>
/// The internal webhooks surface of docs/INTERNAL.md ("Webhooks"), behind the internal key. The API's public
/// <c>/v1/webhooks</c> routes forward here with the caller's organisation in the path, which every query includes.
/// </summary>
public static class WebhookRoutes
{
    public const int MaxBodyBytes = 64 * 1024;
    public const int DefaultPageSize = 20;
    public const int MaxPageSize = 100;

    public static IEndpointRouteBuilder MapWebhookRoutes(this IEndpointRouteBuilder app)
    {
        var org = app.MapGroup("/internal/organizations/{org}/webhooks").RequireInternalKey();
        org.MapPost("/", CreateAsync);
        org.MapGet("/", ListAsync);
        org.MapGet("/{id}", GetAsync);
        org.MapDelete("/{id}", DeleteAsync);
        org.MapPost("/{id}/test", TestAsync);
        org.MapPost("/{id}/rotate-secret", RotateSecretAsync);
        org.MapPost("/{id}/enable", EnableAsync);
        org.MapGet("/{id}/deliveries", DeliveriesAsync);
        org.MapPost("/{id}/deliveries/{deliveryId}/replay", ReplayAsync);
        return app;
    }

    private static async Task<IResult> CreateAsync(string org, HttpRequest request, EndpointStore endpoints, SsrfGuard guard, TimeProvider clock, CancellationToken ct)
    {
        if (!TryOrganization(org, out var organizationId, out var bad)) return bad!;
        var (body, bodyError) = await ReadObjectAsync(request, ct);
        if (bodyError is not null) return bodyError;

        if (!body.TryGetProperty("url", out var urlElement) || urlElement.ValueKind != JsonValueKind.String)
            return WebhookErrors.Validation("url", "required, an http or https URL");
        var url = urlElement.GetString()!.Trim();
        if (SsrfGuard.CheckUrlShape(url, out var uri) is { } shape) return WebhookErrors.Validation("url", shape);

        if (!body.TryGetProperty("eventTypes", out var typesElement) || typesElement.ValueKind != JsonValueKind.Array)
            return WebhookErrors.Validation("eventTypes", $"required, a non-empty array of event types ({string.Join(", ", EventTypes.Known.Order(StringComparer.Ordinal))})");
        var types = new List<string>();
        foreach (var t in typesElement.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.String || !EventTypes.Known.Contains(t.GetString()!))
                return WebhookErrors.Validation("eventTypes", $"{Shorten(t.GetRawText())} is not a known event type ({string.Join(", ", EventTypes.Known.Order(StringComparer.Ordinal))})");
            if (!types.Contains(t.GetString()!)) types.Add(t.GetString()!);
        }
        if (types.Count == 0) return WebhookErrors.Validation("eventTypes", "must name at least one event type");

        // Last, as it may wait on DNS: the name is resolved and every address it has must be one webhooks may reach.
        var decision = await guard.CheckHostAsync(uri!.IdnHost, ct);
        if (!decision.Allowed) return WebhookErrors.Validation("url", decision.Refusal!);

        // Stored as written (the caller sees back what it sent): the guard has refused any odd spelling of an address.
        var (endpoint, secret) = await endpoints.CreateAsync(organizationId, url, types, clock.GetUtcNow(), ct);
        return Results.Json(new
        {
            endpoint.Id, endpoint.Url, endpoint.EventTypes, endpoint.Status, endpoint.CreatedAt,
            endpoint.DisabledAt, endpoint.DisabledReason, endpoint.FailingSince, signingSecret = secret,
        }, BoxesJson.Options, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListAsync(string org, EndpointStore endpoints, CancellationToken ct)
    {
        if (!TryOrganization(org, out var organizationId, out var bad)) return bad!;
        return Results.Json(new { items = await endpoints.ListAsync(organizationId, ct) }, BoxesJson.Options);
    }

    private static async Task<IResult> GetAsync(string org, string id, EndpointStore endpoints, CancellationToken ct)
    {
        if (!TryOrganization(org, out var organizationId, out var bad)) return bad!;
        if (!Guid.TryParse(id, out var endpointId)) return WebhookErrors.WebhookNotFound(id);
        return await endpoints.GetAsync(organizationId, endpointId, ct) is { } endpoint
            ? Results.Json(endpoint, BoxesJson.Options)
            : WebhookErrors.WebhookNotFound(endpointId);
    }

    private static async Task<IResult> DeleteAsync(string org, string id, EndpointStore endpoints, TimeProvider clock, CancellationToken ct)
    {
        if (!TryOrganization(org, out var organizationId, out var bad)) return bad!;
        if (!Guid.TryParse(id, out var endpointId)) return WebhookErrors.WebhookNotFound(id);
        return await endpoints.DeleteAsync(organizationId, endpointId, clock.GetUtcNow(), ct)
            ? Results.Json(new { id = endpointId, deleted = true }, BoxesJson.Options)
            : WebhookErrors.WebhookNotFound(endpointId);
    }

    /// <summary>A <c>webhook.test</c> event through the normal path: a delivery row, claimed, signed and retried like any other.</summary>
    private static async Task<IResult> TestAsync(string org, string id, EndpointStore endpoints, DeliveryStore deliveries, TimeProvider clock, CancellationToken ct)
    {
        if (!TryOrganization(org, out var organizationId, out var bad)) return bad!;
        if (!Guid.TryParse(id, out var endpointId)) return WebhookErrors.WebhookNotFound(id);
        if (await endpoints.GetAsync(organizationId, endpointId, ct) is not { } endpoint) return WebhookErrors.WebhookNotFound(endpointId);
        if (endpoint.Status != "active") return WebhookErrors.Conflict($"Webhook {endpointId} is disabled; enable it before sending a test event.");
        var now = clock.GetUtcNow();
        var deliveryId = await deliveries.EnqueueAsync(endpointId, Guid.NewGuid(), EventTypes.Test, WebhookPayloads.ForTest(endpointId, now), now, ct);
        return Results.Json(new { deliveryId }, BoxesJson.Options, statusCode: StatusCodes.Status202Accepted);
    }

    private static async Task<IResult> RotateSecretAsync(
        string org, string id, EndpointStore endpoints, TimeProvider clock, IOptions<WebhooksOptions> options, CancellationToken ct)
    {
        if (!TryOrganization(org, out var organizationId, out var bad)) return bad!;
        if (!Guid.TryParse(id, out var endpointId)) return WebhookErrors.WebhookNotFound(id);
        var expires = clock.GetUtcNow() + options.Value.SecretRotationOverlap;
        return await endpoints.RotateSecretAsync(organizationId, endpointId, expires, ct) is { } secret
            ? Results.Json(new { signingSecret = secret, previousSecretExpiresAt = expires }, BoxesJson.Options)
            : WebhookErrors.WebhookNotFound(endpointId);
    }

    private static async Task<IResult> EnableAsync(string org, string id, EndpointStore endpoints, CancellationToken ct)
    {
        if (!TryOrganization(org, out var organizationId, out var bad)) return bad!;
        if (!Guid.TryParse(id, out var endpointId)) return WebhookErrors.WebhookNotFound(id);
        return await endpoints.EnableAsync(organizationId, endpointId, ct) is { } endpoint
            ? Results.Json(endpoint, BoxesJson.Options)
            : WebhookErrors.WebhookNotFound(endpointId);
    }

    private static async Task<IResult> DeliveriesAsync(string org, string id, HttpRequest request, DeliveryLog log, TimeProvider clock, CancellationToken ct)
    {
        if (!TryOrganization(org, out var organizationId, out var bad)) return bad!;
        if (!Guid.TryParse(id, out var endpointId)) return WebhookErrors.WebhookNotFound(id);
        var limit = DefaultPageSize;
        if (request.Query.TryGetValue("limit", out var limitText) && limitText.ToString().Length > 0
            && (!int.TryParse(limitText, System.Globalization.CultureInfo.InvariantCulture, out limit) || limit is < 1 or > MaxPageSize))
            return WebhookErrors.Validation("limit", $"must be a whole number from 1 to {MaxPageSize}");
        DeliveryCursor? cursor = null;
        if (request.Query.TryGetValue("cursor", out var cursorText) && cursorText.ToString().Length > 0
            && !DeliveryCursor.TryDecode(cursorText.ToString(), out cursor))
            return WebhookErrors.Validation("cursor", "is not a cursor this route handed out (use nextCursor as it is)");
        return await log.ListAsync(organizationId, endpointId, limit, cursor, clock.GetUtcNow(), ct) is { } page
            ? Results.Json(page, BoxesJson.Options)
            : WebhookErrors.WebhookNotFound(endpointId);
    }

    private static async Task<IResult> ReplayAsync(string org, string id, string deliveryId, DeliveryLog log, TimeProvider clock, CancellationToken ct)
    {
        if (!TryOrganization(org, out var organizationId, out var bad)) return bad!;
        if (!Guid.TryParse(id, out var endpointId)) return WebhookErrors.WebhookNotFound(id);
        if (!Guid.TryParse(deliveryId, out var delivery)) return WebhookErrors.DeliveryNotFound(deliveryId);
        return await log.ReplayAsync(organizationId, endpointId, delivery, clock.GetUtcNow(), ct) switch
        {
            DeliveryLog.ReplayResult.Replayed => Results.Json(new { deliveryId = delivery }, BoxesJson.Options, statusCode: StatusCodes.Status202Accepted),
            DeliveryLog.ReplayResult.StillPending => WebhookErrors.Conflict($"Delivery {delivery} is still pending; it can be replayed once it has succeeded or failed."),
            DeliveryLog.ReplayResult.EndpointDisabled => WebhookErrors.Conflict($"Webhook {endpointId} is disabled; enable it before replaying its deliveries."),
            _ => WebhookErrors.DeliveryNotFound(deliveryId),
        };
    }

    /// <summary>The organisation in the path: the API always sends a GUID, so anything else is a caller's bug, named as such.</summary>
    private static bool TryOrganization(string org, out Guid id, out IResult? error)
    {
        error = Guid.TryParse(org, out id) ? null : WebhookErrors.Validation("organizationId", "must be a GUID");
        return error is null;
    }

    private static async Task<(JsonElement Body, IResult? Error)> ReadObjectAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBodyBytes) return (default, WebhookErrors.Error(413, "VALIDATION_FAILED", $"The request body is larger than the {MaxBodyBytes / 1024} KiB limit."));
        using var buffer = new MemoryStream();
        var chunk = new byte[8 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes) return (default, WebhookErrors.Error(413, "VALIDATION_FAILED", $"The request body is larger than the {MaxBodyBytes / 1024} KiB limit."));
            buffer.Write(chunk, 0, read);
        }
        try
        {
            using var doc = JsonDocument.Parse(buffer.Length == 0 ? "{}"u8.ToArray() : buffer.ToArray());
            return doc.RootElement.ValueKind == JsonValueKind.Object
                ? (doc.RootElement.Clone(), null)
                : (default, WebhookErrors.Validation("body", "must be a JSON object"));
        }
        catch (JsonException ex)
        {
            return (default, WebhookErrors.Validation("body", $"is not valid JSON ({ex.Message})"));
        }
    }

    private static string Shorten(string raw) => raw.Length > 60 ? raw[..60] + "…" : raw;
}
