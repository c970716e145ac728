using System.Text.Json;
using System.Text.Json.Nodes;
using Boxes.Api.Errors;

namespace Boxes.Api.Webhooks;

/// <summary>
/// What the edge can judge of a webhook request without the webhooks service: types, presence and sizes. Whether a
/// URL is safe to call (the SSRF guard resolves names) and which event types exist are the service's to decide, so
/// that those rules live in one place. Create bodies are rebuilt from the fields checked here, so the service only
/// ever sees what its contract names.
/// </summary>
public static class WebhookRequests
{
    public const int MaxUrlLength = 2048;
    public const int MaxEventTypes = 64;
    public const int MaxEventTypeLength = 100;
    public const int MaxDeliveriesLimit = 100;
    public const int MaxCursorLength = 1024;

    /// <summary><c>{url, eventTypes}</c> → the body to forward.</summary>
    public static (JsonObject? Body, ApiError? Error) Create(JsonElement body)
    {
        JsonElement? url = null, eventTypes = null;
        foreach (var field in body.EnumerateObject())
        {
            if (field.Name == "url") url = field.Value;
            else if (field.Name == "eventTypes") eventTypes = field.Value;
        }

        if (url is not { } u || u.ValueKind == JsonValueKind.Null) return Bad(ApiError.Validation("url: required, the http(s) URL to deliver events to."));
        if (u.ValueKind != JsonValueKind.String || u.GetString()!.Length == 0) return Bad(Fields.Invalid("url", "an http(s) URL string", u));
        var text = u.GetString()!;
        if (text.Length > MaxUrlLength) return Bad(ApiError.Validation($"url: longer than {MaxUrlLength} characters."));
        if (!Uri.TryCreate(text, UriKind.Absolute, out var parsed) || parsed.Scheme is not ("http" or "https"))
            return Bad(Fields.Invalid("url", "an absolute http(s) URL", u));

        if (eventTypes is not { } e || e.ValueKind == JsonValueKind.Null)
            return Bad(ApiError.Validation("eventTypes: required, an array of event types such as [\"session.ready\"]."));
        if (e.ValueKind != JsonValueKind.Array) return Bad(Fields.Invalid("eventTypes", "an array of event type strings", e));
        if (e.GetArrayLength() == 0) return Bad(ApiError.Validation("eventTypes: must name at least one event type."));
        if (e.GetArrayLength() > MaxEventTypes) return Bad(ApiError.Validation($"eventTypes: at most {MaxEventTypes} entries."));
        var types = new JsonArray();
        var i = 0;
        foreach (var t in e.EnumerateArray())
        {
            if (t.ValueKind != JsonValueKind.String || t.GetString()!.Length is 0 or > MaxEventTypeLength)
                return Bad(Fields.Invalid($"eventTypes[{i}]", "an event type string such as \"session.ready\"", t));
            types.Add(t.GetString());
            i++;
        }
        return (new JsonObject { ["url"] = text, ["eventTypes"] = types }, null);
    }

    /// <summary><c>?limit=&amp;cursor=</c> of the deliveries log → the query string to forward ("" or "?...").</summary>
    public static (string? Query, ApiError? Error) DeliveriesQuery(IQueryCollection query)
    {
        var parts = new List<string>();
        var limit = query["limit"];
        if (limit.Count > 1) return (null, ApiError.Validation("limit: given more than once."));
        if (limit.Count == 1)
        {
            if (!int.TryParse(limit[0], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var size)
                || size is < 1 or > MaxDeliveriesLimit)
                return (null, ApiError.Validation($"limit: a whole number from 1 to {MaxDeliveriesLimit}."));
            parts.Add($"limit={size}");
        }
        var cursor = query["cursor"];
        if (cursor.Count > 1) return (null, ApiError.Validation("cursor: given more than once."));
        // The cursor is the service's own opaque token: only its size is ours to bound.
        if (cursor.Count == 1 && cursor[0] is { Length: > 0 } c)
        {
            if (c.Length > MaxCursorLength) return (null, ApiError.Validation("cursor: not a cursor this API returned."));
            parts.Add("cursor=" + Uri.EscapeDataString(c));
        }
        return (parts.Count == 0 ? "" : "?" + string.Join('&', parts), null);
    }

    private static (JsonObject?, ApiError?) Bad(ApiError error) => (null, error);
}
