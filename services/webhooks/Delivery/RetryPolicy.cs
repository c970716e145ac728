namespace Boxes.Webhooks.Delivery;

/// <summary>
/// When a failed delivery is tried again (<c>Webhooks:RetrySchedule</c>, default immediately, 5 s, 5 min, 30 min,
/// 2 h, 5 h, 10 h, 10 h): the n-th entry is the wait before attempt n, moved by up to ±<c>Jitter</c> so that many
/// deliveries failing together do not retry together. A <c>Retry-After</c> the endpoint sent with 429 or 503 wins when
/// it asks for a longer wait (up to <see cref="MaxRetryAfter"/>). Pure: RetryPolicyTests.
/// </summary>
public sealed class RetryPolicy(IReadOnlyList<TimeSpan> schedule, double jitter, Func<double>? random = null)
{
    /// <summary>The longest wait an endpoint's Retry-After can impose: a day, so a typo cannot park a delivery for a year.</summary>
    public static readonly TimeSpan MaxRetryAfter = TimeSpan.FromDays(1);

    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;

    /// <summary>Attempts in one sequence (the first included).</summary>
    public int Attempts => schedule.Count;

    /// <summary>
    /// When to try again after attempt <paramref name="attemptInSequence"/> (1-based) of a sequence failed at
    /// <paramref name="now"/>, or null when it was the last.
    /// </summary>
    public DateTimeOffset? NextAttempt(int attemptInSequence, DateTimeOffset now, TimeSpan? retryAfter = null)
    {
        if (attemptInSequence >= schedule.Count) return null;
        var delay = Jittered(schedule[attemptInSequence]);
        if (retryAfter is { } asked)
        {
            if (asked > MaxRetryAfter) asked = MaxRetryAfter;
            if (asked > delay) delay = asked;
        }
        return now + delay;
    }

    public TimeSpan Jittered(TimeSpan delay) =>
        delay <= TimeSpan.Zero || jitter <= 0 ? delay : delay * (1 + jitter * (2 * _random() - 1));

    /// <summary>The wait a 429 or 503 asked for: seconds, or an HTTP date. Null for other answers or a missing/garbled header.</summary>
    public static TimeSpan? RetryAfter(HttpResponseMessage response, DateTimeOffset now)
    {
        if ((int)response.StatusCode is not (429 or 503)) return null;
        var header = response.Headers.RetryAfter;
        if (header?.Delta is { } delta) return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        if (header?.Date is { } date) return date > now ? date - now : TimeSpan.Zero;
        return null;
    }
}
