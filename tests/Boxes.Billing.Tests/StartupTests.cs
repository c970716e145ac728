using Boxes.ServiceDefaults;
using Boxes.Testing;
using Microsoft.Extensions.Options;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>
/// Settings the service cannot run without, or cannot run with, stop it at startup instead of on the first request.
/// The host is built with Program's own calls (AddServiceDefaults, AddBilling); see <see cref="ServiceStartup"/>.
/// </summary>
public sealed class StartupTests
{
    private const string Key = "internal-key-for-billing-tests-0123";

    private static Task<Exception> StartFails(params (string Key, string Value)[] settings) =>
        ServiceStartup.FailsAsync(builder =>
        {
            builder.AddServiceDefaults();
            builder.AddBilling();
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
