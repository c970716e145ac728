using Boxes.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>
/// Settings the service cannot run without, or cannot run with, stop it at startup instead of on the first request.
/// The host is built here with Program's own two calls (AddServiceDefaults, AddWebhooks) rather than through
/// WebApplicationFactory, which sometimes reports a failed start as an ObjectDisposedException of its own.
/// </summary>
public sealed class StartupTests
{
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
            builder.AddWebhooks();
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
    [InlineData("Webhooks:AllowedHosts", "10.0.0.0/99")]
    [InlineData("Webhooks:RetrySchedule", "0s,soon")]
    [InlineData("Webhooks:MaxInFlightPerEndpoint", "0")]
    public async Task The_service_refuses_to_start_with_a_malformed_webhooks_setting(string key, string value)
    {
        var ex = await StartFails((InternalApi.ConfigKey, "internal-key-for-webhook-tests-0123"), (key, value));
        Assert.True(Chain(ex).Any(e => e is FormatException or OptionsValidationException), $"startup failed for another reason: {ex}");
    }
}
