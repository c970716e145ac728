using Boxes.ServiceDefaults;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Xunit;

namespace Boxes.Artifacts.Tests;

public sealed class StartupTests
{
    [Theory]
    [InlineData("")]
    [InlineData("too-short")]
    public void The_service_refuses_to_start_without_an_internal_key(string key)
    {
        // Nothing is reached before the check: the connection strings need not lead anywhere.
        using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:Boxes", "Host=127.0.0.1;Port=1;Username=x;Password=x;Database=x");
            web.UseSetting("ConnectionStrings:RabbitMq", "amqp://x:x@127.0.0.1:1/x");
            web.UseSetting(InternalApi.ConfigKey, key);
        });

        var error = Assert.ThrowsAny<Exception>(() => factory.Server);

        Assert.Contains("Boxes:InternalKey", Flatten(error));
    }

    private static string Flatten(Exception e) => e.InnerException is null ? e.Message : e.Message + " | " + Flatten(e.InnerException);
}
