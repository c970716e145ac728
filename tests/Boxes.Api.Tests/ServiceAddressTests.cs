using Xunit;
using Boxes.ServiceDefaults;
using Microsoft.Extensions.Configuration;

namespace Boxes.Api.Tests;

/// <summary>How every service reads another service's address (Artifacts:Address, Webhooks:Address, Billing:Address).</summary>
public sealed class ServiceAddressTests
{
    private static IConfiguration With(string? address) =>
        new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Billing:Address"] = address }).Build();

    [Theory]
    [InlineData(null, "http://127.0.0.1:8083/")]
    [InlineData("", "http://127.0.0.1:8083/")]
    [InlineData("http://billing:8080", "http://billing:8080/")]
    [InlineData("https://billing.internal/prefix", "https://billing.internal/prefix/")]
    public void An_address_is_the_configured_one_or_the_default_with_a_trailing_slash(string? configured, string expected) =>
        Assert.Equal(expected, InternalApi.ServiceAddress(With(configured), "Billing:Address", "http://127.0.0.1:8083").ToString());

    [Theory]
    [InlineData("ftp://billing:21")]
    [InlineData("billing:8080")]
    [InlineData("not a url")]
    public void Anything_but_an_http_url_stops_the_service_naming_the_setting_and_its_variable(string configured)
    {
        var error = Assert.Throws<InvalidOperationException>(() => InternalApi.ServiceAddress(With(configured), "Billing:Address", "http://127.0.0.1:8083"));
        Assert.Contains("Billing:Address (env Billing__Address)", error.Message);
        Assert.Contains(configured, error.Message);
    }
}
