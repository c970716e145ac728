using Boxes.ServiceDefaults;
using Boxes.Testing;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Boxes.Scheduler.Tests.Infrastructure;

/// <summary>
/// The scheduler's real wiring (AddServiceDefaults + AddScheduler, as Program.cs has it) hosted in-process
/// against a test database and virtual host, with a recorder of every message its bus consumed.
/// </summary>
public sealed class SchedulerHost : IAsyncDisposable
{
    private readonly IHost _host;

    private SchedulerHost(IHost host, ConsumedMessages consumed)
    {
        _host = host;
        Consumed = consumed;
    }

    /// <summary>Messages this scheduler's endpoints finished consuming (after the saga's transaction committed).</summary>
    public ConsumedMessages Consumed { get; }

    public IServiceProvider Services => _host.Services;

    public static async Task<SchedulerHost> StartAsync(PostgresDatabase db, RabbitMqVirtualHost vhost, IDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Development });
        var config = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Boxes"] = db.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = vhost.Url,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>()) config[key] = value;
        builder.Configuration.AddInMemoryCollection(config);

        builder.AddServiceDefaults();
        builder.AddScheduler();

        var host = builder.Build();
        var consumed = new ConsumedMessages();
        host.Services.GetRequiredService<IBus>().ConnectConsumeObserver(consumed);
        await host.StartAsync();
        return new SchedulerHost(host, consumed);
    }

    public async Task StopAsync()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _host.StopAsync(cts.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try { await StopAsync(); }
        catch (ObjectDisposedException) { /* already stopped and disposed */ }
        _host.Dispose();
    }
}
