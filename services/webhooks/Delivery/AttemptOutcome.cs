namespace Boxes.Webhooks.Delivery;

/// <summary>What one attempt came to: the endpoint's status code (if it answered), an error (if it failed), how long it took.</summary>
public sealed record AttemptOutcome(DateTimeOffset StartedAt, int DurationMs, int? StatusCode, string? Error, TimeSpan? RetryAfter)
{
    public bool Succeeded => StatusCode is >= 200 and < 300;
    /// <summary>410 Gone: the endpoint says it no longer exists, so it is disabled.</summary>
    public bool Gone => StatusCode == 410;
}
