namespace Boxes.Sdk.Internal;

/// <summary>How long to wait before a retry.</summary>
internal static class Backoff
{
    /// <summary>
    /// Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniform draw from
    /// [0, min(MaxDelayMs, BaseDelayMs * 2^retryIndex)], both ends included. Spreading retries over the whole window,
    /// rather than around its top, is what keeps many clients failing together from coming back together.
    /// </summary>
    /// <param name="retryIndex">0 before the first retry, 1 before the second, ...</param>
    /// <param name="retry">The ceilings.</param>
    /// <param name="random">The draw's source (seeded in tests).</param>
    public static long FullJitterMs(int retryIndex, RetryOptions retry, Random random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(retryIndex);
        return random.NextInt64(0, CeilingMs(retryIndex, retry) + 1);
    }

    /// <summary>min(MaxDelayMs, BaseDelayMs * 2^retryIndex), without overflowing for large indexes.</summary>
    public static long CeilingMs(int retryIndex, RetryOptions retry)
    {
        // An int shifted left by at most 30 fits in a long; past that the ceiling is MaxDelayMs anyway.
        var exponential = retryIndex > 30 ? long.MaxValue : (long)retry.BaseDelayMs << retryIndex;
        return Math.Min(retry.MaxDelayMs, exponential);
    }

    /// <summary>
    /// The wait before a retry: the jittered backoff, or the server's <c>Retry-After</c> when that is longer, and never
    /// more than MaxDelayMs. A server asking for longer than MaxDelayMs is retried at MaxDelayMs (and, if still
    /// refusing, its error surfaces once the retries are spent): a call never blocks for longer than the caller allowed.
    /// </summary>
    public static TimeSpan Delay(int retryIndex, RetryOptions retry, Random random, TimeSpan? retryAfter)
    {
        var ms = FullJitterMs(retryIndex, retry, random);
        if (retryAfter is { } asked && asked.TotalMilliseconds > ms) ms = (long)Math.Ceiling(asked.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(Math.Min(ms, retry.MaxDelayMs));
    }
}
