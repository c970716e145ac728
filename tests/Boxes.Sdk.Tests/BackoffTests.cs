using Boxes.Sdk.Internal;

namespace Boxes.Sdk.Tests;

public sealed class BackoffTests
{
    private static readonly RetryOptions Defaults = new();

    [Theory]
    [InlineData(0, 500)]
    [InlineData(1, 1000)]
    [InlineData(2, 2000)]
    [InlineData(4, 8000)]
    [InlineData(5, 10_000)]
    [InlineData(40, 10_000)]
    [InlineData(int.MaxValue, 10_000)]
    public void The_ceiling_doubles_from_BaseDelayMs_up_to_MaxDelayMs(int retryIndex, long expected) =>
        Assert.Equal(expected, Backoff.CeilingMs(retryIndex, Defaults));

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(6)]
    public void Full_jitter_stays_within_zero_and_the_ceiling_and_covers_the_whole_range(int retryIndex)
    {
        var random = new Random(20240601);
        var ceiling = Backoff.CeilingMs(retryIndex, Defaults);
        var draws = Enumerable.Range(0, 5000).Select(_ => Backoff.FullJitterMs(retryIndex, Defaults, random)).ToList();

        Assert.All(draws, d => Assert.InRange(d, 0, ceiling));
        // Full jitter, not "equal jitter" (half fixed, half random): the draws reach down near zero and up near the ceiling.
        Assert.True(draws.Min() < ceiling * 0.05, $"lowest draw {draws.Min()} of {ceiling}");
        Assert.True(draws.Max() > ceiling * 0.95, $"highest draw {draws.Max()} of {ceiling}");
        Assert.InRange(draws.Average(), ceiling * 0.45, ceiling * 0.55);
    }

    [Fact]
    public void A_Retry_After_longer_than_the_jitter_wins_and_is_capped_at_MaxDelayMs()
    {
        var random = new Random(7);
        var retry = new RetryOptions { BaseDelayMs = 10, MaxDelayMs = 2_000 };

        Assert.Equal(TimeSpan.FromMilliseconds(1_000), Backoff.Delay(0, retry, random, TimeSpan.FromSeconds(1)));
        Assert.Equal(TimeSpan.FromMilliseconds(2_000), Backoff.Delay(0, retry, random, TimeSpan.FromSeconds(60)));
        Assert.InRange(Backoff.Delay(0, retry, random, null).TotalMilliseconds, 0, 10);
    }

    [Fact]
    public void Zero_delays_are_allowed_and_give_zero()
    {
        var retry = new RetryOptions { BaseDelayMs = 0, MaxDelayMs = 0 };
        Assert.Equal(0, Backoff.FullJitterMs(3, retry, new Random(1)));
    }
}
