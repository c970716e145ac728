using Boxes.ServiceDefaults;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Options;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>Settings the service cannot run without, or cannot run with, stop it at startup instead of on the first request.</summary>
public sealed class StartupTests
{
    private static WebApplicationFactory<Program> Service(params (string Key, string Value)[] settings) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            // Never reached: startup fails before anything connects.
            web.UseSetting("ConnectionStrings:Boxes", "Host=127.0.0.1;Port=1;Username=none;Password=none;Database=none");
            web.UseSetting("ConnectionStrings:RabbitMq", "amqp://none:none@127.0.0.1:1/none");
            foreach (var (key, value) in settings) web.UseSetting(key, value);
        });

    [Fact]
    public void The_service_refuses_to_start_without_the_internal_key()
    {
        using var factory = Service();
        var ex = Assert.Throws<InvalidOperationException>(() => factory.Server);
        Assert.Contains(InternalApi.ConfigKey, ex.Message);
    }

    [Theory]
    [InlineData("Webhooks:AllowedHosts", "10.0.0.0/99")]
    [InlineData("Webhooks:RetrySchedule", "0s,soon")]
    [InlineData("Webhooks:MaxInFlightPerEndpoint", "0")]
    public void The_service_refuses_to_start_with_a_malformed_webhooks_setting(string key, string value)
    {
        using var factory = Service((InternalApi.ConfigKey, "internal-key-for-webhook-tests-0123"), (key, value));
        var ex = Assert.ThrowsAny<Exception>(() => factory.Server);
        Assert.True(ex is FormatException or OptionsValidationException || ex.InnerException is FormatException or OptionsValidationException,
            $"unexpected {ex.GetType().Name}: {ex.Message}");
    }
}
