namespace Boxes.Sdk;

/// <summary>A webhook endpoint to create.</summary>
public sealed record CreateWebhookRequest
{
    /// <summary>Where deliveries go (http or https).</summary>
    public string Url { get; init; } = "";
    /// <summary>The event types to deliver (e.g. <c>session.ready</c>, <c>sandbox.failed</c>).</summary>
    public IReadOnlyList<string> EventTypes { get; init; } = [];
}

/// <summary>A webhook endpoint.</summary>
public sealed record Webhook
{
    /// <summary>Its id.</summary>
    public string Id { get; init; } = "";
    /// <summary>Where deliveries go.</summary>
    public string Url { get; init; } = "";
    /// <summary>The event types it receives.</summary>
    public IReadOnlyList<string> EventTypes { get; init; } = [];
    /// <summary><c>active</c> or <c>disabled</c>.</summary>
    public string? Status { get; init; }
    /// <summary>When it was created.</summary>
    public DateTimeOffset? CreatedAt { get; init; }
    /// <summary>When it was disabled.</summary>
    public DateTimeOffset? DisabledAt { get; init; }
    /// <summary>Why it was disabled.</summary>
    public string? DisabledReason { get; init; }
    /// <summary>Since when every delivery has failed.</summary>
    public DateTimeOffset? FailingSince { get; init; }
    /// <summary>The signing secret (<c>whsec_...</c>), only in the answer to create: save it.</summary>
    public string? SigningSecret { get; init; }
}

/// <summary>A test event that was queued.</summary>
public sealed record WebhookTestResult
{
    /// <summary>The delivery to look for in <see cref="BrowserCloud.ListWebhookDeliveriesAsync"/>.</summary>
    public string DeliveryId { get; init; } = "";
}

/// <summary>A new signing secret; the previous one keeps signing until <see cref="PreviousSecretExpiresAt"/>.</summary>
public sealed record WebhookSecretRotation
{
    /// <summary>The new secret.</summary>
    public string SigningSecret { get; init; } = "";
    /// <summary>When the previous secret stops signing.</summary>
    public DateTimeOffset? PreviousSecretExpiresAt { get; init; }
}

/// <summary>One attempt at a delivery.</summary>
public sealed record WebhookDeliveryAttempt
{
    /// <summary>1 for the first.</summary>
    public int Attempt { get; init; }
    /// <summary>When it was made.</summary>
    public DateTimeOffset? At { get; init; }
    /// <summary>The receiver's status, if it answered.</summary>
    public int? StatusCode { get; init; }
    /// <summary>What went wrong, if anything.</summary>
    public string? Error { get; init; }
    /// <summary>How long it took.</summary>
    public int DurationMs { get; init; }
    /// <summary>When the next attempt is due, if any.</summary>
    public DateTimeOffset? NextAttemptAt { get; init; }
}

/// <summary>One event's delivery to an endpoint, with its attempts.</summary>
public sealed record WebhookDelivery
{
    /// <summary>The delivery's id (for replay).</summary>
    public string DeliveryId { get; init; } = "";
    /// <summary>The event's id (the <c>webhook-id</c> header).</summary>
    public string EventId { get; init; } = "";
    /// <summary>The event type.</summary>
    public string Type { get; init; } = "";
    /// <summary>e.g. <c>pending</c>, <c>delivered</c>, <c>failed</c>.</summary>
    public string Status { get; init; } = "";
    /// <summary>When it was queued.</summary>
    public DateTimeOffset? CreatedAt { get; init; }
    /// <summary>When the next attempt is due, if any.</summary>
    public DateTimeOffset? NextAttemptAt { get; init; }
    /// <summary>Every attempt so far.</summary>
    public IReadOnlyList<WebhookDeliveryAttempt> Attempts { get; init; } = [];
}

/// <summary>A page of deliveries, newest first.</summary>
public sealed record WebhookDeliveryList
{
    /// <summary>The deliveries.</summary>
    public IReadOnlyList<WebhookDelivery> Items { get; init; } = [];
    /// <summary>Pass back as <c>cursor</c> for the next page; null on the last.</summary>
    public string? NextCursor { get; init; }
}
