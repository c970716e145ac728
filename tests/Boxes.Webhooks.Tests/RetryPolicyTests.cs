using System.Net;
using Boxes.Webhooks.Delivery;
using Xunit;

namespace Boxes.Webhooks.Tests;

public sealed class RetryPolicyTests
{
    private static readonly DateTimeOffset Now = new(2025, 1, 1, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void The_default_schedule_is_immediately_then_5s_5m_30m_2h_5h_10h_10h()
    {
        var o = new WebhooksOptions();
        Assert.Equal(
            [TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30), TimeSpan.FromHours(2),
             TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10)],
            o.RetryDelays);
        var exact = new RetryPolicy(o.RetryDelays, jitter: 0);
        Assert.Equal(Now + TimeSpan.FromSeconds(5), exact.NextAttempt(1, Now));
        Assert.Equal(Now + TimeSpan.FromMinutes(5), exact.NextAttempt(2, Now));
        Assert.Equal(Now + TimeSpan.FromHours(10), exact.NextAttempt(7, Now));
        Assert.Null(exact.NextAttempt(8, Now));
    }

    [Fact]
    public void Jitter_moves_each_wait_by_at_most_ten_percent_either_way()
    {
        var schedule = new[] { TimeSpan.Zero, TimeSpan.FromMinutes(30) };
        var low = new RetryPolicy(schedule, 0.1, () => 0.0).NextAttempt(1, Now)!.Value - Now;
        var high = new RetryPolicy(schedule, 0.1, () => 0.999999).NextAttempt(1, Now)!.Value - Now;
        Assert.Equal(TimeSpan.FromMinutes(27), low);
        Assert.InRange(high, TimeSpan.FromMinutes(32.99), TimeSpan.FromMinutes(33));
        var random = new RetryPolicy(schedule, 0.1);
        for (var i = 0; i < 200; i++)
            Assert.InRange(random.NextAttempt(1, Now)!.Value - Now, TimeSpan.FromMinutes(27), TimeSpan.FromMinutes(33));
    }

    [Fact]
    public void A_later_Retry_After_wins_over_the_schedule_and_an_earlier_one_does_not()
    {
        var policy = new RetryPolicy([TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5)], jitter: 0);
        Assert.Equal(Now + TimeSpan.FromSeconds(120), policy.NextAttempt(1, Now, TimeSpan.FromSeconds(120)));
        Assert.Equal(Now + TimeSpan.FromMinutes(5), policy.NextAttempt(2, Now, TimeSpan.FromSeconds(30)));
        Assert.Equal(Now + RetryPolicy.MaxRetryAfter, policy.NextAttempt(1, Now, TimeSpan.FromDays(365)));
        Assert.Null(policy.NextAttempt(3, Now, TimeSpan.FromSeconds(1)));
    }

    [Theory]
    [InlineData(429, "120", 120)]
    [InlineData(503, "7", 7)]
    [InlineData(500, "120", null)]
    [InlineData(429, "soon", null)]
    public void Retry_After_in_seconds_counts_on_429_and_503_only(int status, string header, int? seconds)
    {
        using var response = new HttpResponseMessage((HttpStatusCode)status);
        response.Headers.TryAddWithoutValidation("Retry-After", header);
        Assert.Equal(seconds is { } s ? TimeSpan.FromSeconds(s) : null, RetryPolicy.RetryAfter(response, Now));
    }

    [Fact]
    public void Retry_After_as_an_HTTP_date_is_the_time_until_then()
    {
        using var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
        response.Headers.TryAddWithoutValidation("Retry-After", (Now + TimeSpan.FromMinutes(3)).ToString("R"));
        Assert.Equal(TimeSpan.FromMinutes(3), RetryPolicy.RetryAfter(response, Now));
    }

    [Theory]
    [InlineData("0s", 0)]
    [InlineData("500ms", 500)]
    [InlineData("5s", 5000)]
    [InlineData("5m", 300000)]
    [InlineData("2h", 7200000)]
    [InlineData("1d", 86400000)]
    [InlineData("00:00:05", 5000)]
    public void Schedule_entries_read_as_people_write_them(string text, long milliseconds) =>
        Assert.Equal(TimeSpan.FromMilliseconds(milliseconds), WebhooksOptions.ParseDuration(text));
}
