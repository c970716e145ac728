using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Xunit;

namespace Boxes.Testing;

/// <summary>
/// For the tests that a service refuses to start with settings it cannot run with: the host is built with the
/// service's own Program calls (which the caller passes) rather than through WebApplicationFactory, which sometimes
/// reports a failed start as an ObjectDisposedException of its own.
/// </summary>
public static class ServiceStartup
{
    /// <summary>
    /// Builds and starts a host with <paramref name="addService"/> and <paramref name="settings"/> over connection strings
    /// that lead nowhere, and returns what the start threw (the assertion fails if it started).
    /// </summary>
    public static async Task<Exception> FailsAsync(Action<WebApplicationBuilder> addService, params (string Key, string Value)[] settings)
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
            addService(builder);
            await using var app = builder.Build();
            await app.StartAsync();
        });
    }

    /// <summary>The exception and every inner one, depth first (all of an AggregateException's).</summary>
    public static IEnumerable<Exception> Chain(Exception e)
    {
        yield return e;
        var inner = e is AggregateException aggregate ? aggregate.InnerExceptions : e.InnerException is { } one ? [one] : [];
        foreach (var i in inner)
            foreach (var x in Chain(i)) yield return x;
    }
}
