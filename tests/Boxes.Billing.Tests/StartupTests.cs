using Boxes.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>
/// Settings the service cannot run without, or cannot run with, stop it at startup instead of on the first request.
/// The host is built with Program's own calls (AddServiceDefaults, AddBilling) rather than through WebApplicationFactory,
/// which sometimes reports a failed start as an ObjectDisposedException of its own.
/// </summary>
public sealed class StartupTests
{
    private const string Key = "internal-key-for-billing-tests-0123";

    private static async Task<Exception> StartFails(params (string Key, string Value)[] settings)
    {
        var builder = WebApplication.CreateBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            // Never reached: startup fails before anything connects.
            ["ConnectionStrings:Boxes"] = "Host=127.0.0.1;Port=1;Username=none;Password=none;Database=none",
            ["ConnectionStrings:RabbitMq"] = "amqp://none:none@127.0.0.1:1/none",
        }.Concat(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))));
        return await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            builder.AddServiceDefaults();
            builder.AddBilling();
            await using var app = builder.Build();
            await app.StartAsync();
        });
    }

    private static IEnumerable<Exception> Chain(Exception e)
    {
        yield return e;
        var inner = e is AggregateException aggregate ? aggregate.InnerExceptions : e.InnerException is { } one ? [one] : [];
        foreach (var i in inner)
            foreach (var x in Chain(i)) yield return x;
    }

    [Fact]
    public async Task The_service_refuses_to_start_without_the_internal_key()
    {
        var ex = await StartFails();
        Assert.IsType<InvalidOperationException>(ex);
        Assert.Contains(InternalApi.ConfigKey, ex.Message);
    }

    [Theory]
    [InlineData("Billing:IntervalLength", "00:00:00")]
    [InlineData("Billing:IntervalLength", "00:00:00.0005")]
    [InlineData("Billing:Grace", "-00:00:01")]
    [InlineData("Billing:CloseEvery", "00:00:00")]
    [InlineData("Billing:CloseEvery", "soon")]
    public async Task The_service_refuses_to_start_with_a_malformed_billing_setting(string key, string value)
    {
        var ex = await StartFails((InternalApi.ConfigKey, Key), (key, value));
        Assert.True(Chain(ex).Any(e => e is OptionsValidationException or InvalidOperationException or FormatException), $"startup failed for another reason: {ex}");
        Assert.Contains(Chain(ex), e => e.Message.Contains(key.Split(':')[1], StringComparison.Ordinal) || e is FormatException);
    }

    [Theory]
    [InlineData("Metering:Browser:light", "0")]
    [InlineData("Metering:Sandbox:standard", "-2")]
    public async Task The_service_refuses_to_start_with_a_rate_that_is_not_positive(string key, string value)
    {
        var ex = await StartFails((InternalApi.ConfigKey, Key), (key, value));
        Assert.Contains(Chain(ex), e => e is InvalidOperationException && e.Message.Contains("Metering", StringComparison.Ordinal));
    }
}
