using Boxes.Billing.Tests.Infrastructure;
using Boxes.Contracts;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>The service with its vCPU rates set in configuration (section Metering) instead of the defaults.</summary>
public sealed class ConfiguredRatesHost : BillingHost
{
    protected override void Configure(IDictionary<string, string?> settings)
    {
        settings["Metering:Browser:heavy"] = "8";
        settings["Metering:Sandbox:standard"] = "0.5";
    }
}

/// <summary>vCPUs come from configuration, per kind and weight or size, not from constants.</summary>
public sealed class ConfiguredRatesTests(ConfiguredRatesHost host) : IClassFixture<ConfiguredRatesHost>
{
    [Fact]
    public async Task A_heavy_browser_is_metered_at_the_configured_rate()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-05-01T10:00:00.000Z");
        var (box, end) = await host.RanBox(org, BoxKinds.Browser, "heavy", t0, t0.AddMilliseconds(10_001));
        await host.WaitUntilConsumed(end);

        var record = Assert.Single(await host.Records(box.BoxId));
        Assert.Equal(8m, record.Vcpus);
        Assert.Equal(80_008, record.VcpuMs);
    }

    [Fact]
    public async Task A_fractional_rate_is_metered_to_the_nearest_vcpu_millisecond_and_shown_as_configured()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-05-02T10:00:00.000Z");
        var (box, end) = await host.RanBox(org, BoxKinds.Sandbox, "standard", t0, t0.AddMilliseconds(1_001));
        await host.WaitUntilConsumed(end);

        var record = Assert.Single(await host.Records(box.BoxId));
        Assert.Equal(0.5m, record.Vcpus);
        Assert.Equal(501, record.VcpuMs); // 500.5 rounds away from zero
        var feed = await host.Export($"/internal/organizations/{org}/usage/export");
        Assert.Contains("\"vcpus\":0.5,\"vcpuSeconds\":0.501}", feed.Text);
    }

    [Fact]
    public async Task The_weights_left_at_their_defaults_keep_them()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-05-03T10:00:00.000Z");
        var (box, end) = await host.RanBox(org, BoxKinds.Browser, "medium", t0, t0.AddSeconds(10));
        await host.WaitUntilConsumed(end);
        Assert.Equal(2m, Assert.Single(await host.Records(box.BoxId)).Vcpus);
    }
}
