using Boxes.ServiceDefaults;
using Boxes.Testing;
using Microsoft.Extensions.Options;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>
/// Settings the service cannot run without, or cannot run with, stop it at startup instead of on the first request.
/// The host is built with Program's own two calls (AddServiceDefaults, AddWebhooks); see <see cref="ServiceStartup"/>.
/// </summary>
public sealed class StartupTests
{
    private static Task<Exception> StartFails(params (string Key, string Value)[] settings) =>
        ServiceStartup.FailsAsync(builder =>
        {
            builder.AddServiceDefaults();
            builder.AddWebhooks();
        }, settings);

    private static IEnumerable<Exception> Chain(Exception e) => ServiceStartup.Chain(e);

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
