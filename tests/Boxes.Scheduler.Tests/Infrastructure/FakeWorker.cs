using System.Collections.Concurrent;
using Boxes.Contracts;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Boxes.Scheduler.Tests.Infrastructure;

/// <summary>
/// Plays a worker on the bus: consumes its queue (<c>worker-test-1</c>), answers StartBox with BoxStarted and
/// StopBox with BoxStopped, and heartbeats every 500 ms (browser, capacity 4) until told to go quiet.
/// </summary>
public sealed class FakeWorker : IAsyncDisposable
{
    public const string Id = "test-1";
    public const int Capacity = 4;

    private readonly IHost _host;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _heartbeats;
    private volatile bool _heartbeating = true;

    public ConcurrentQueue<StartBox> StartsReceived { get; }
    public ConcurrentQueue<StopBox> StopsReceived { get; }
    public IBus Bus { get; }

    private FakeWorker(IHost host, ConcurrentQueue<StartBox> starts, ConcurrentQueue<StopBox> stops)
    {
        _host = host;
        StartsReceived = starts;
        StopsReceived = stops;
        Bus = host.Services.GetRequiredService<IBus>();
        _heartbeats = Task.Run(HeartbeatLoop);
    }

    public static string EndpointFor(Guid boxId) => $"ws://127.0.0.1:9222/devtools/browser/{boxId:N}";

    public static async Task<FakeWorker> StartAsync(RabbitMqVirtualHost vhost)
    {
        var starts = new ConcurrentQueue<StartBox>();
        var stops = new ConcurrentQueue<StopBox>();
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Development });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:RabbitMq"] = vhost.Url });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.AddBoxesBus(configureBus: (_, cfg) => cfg.ReceiveEndpoint(WorkerQueues.For(Id), e =>
        {
            // One at a time, so commands are seen in the order the scheduler sent them.
            e.ConcurrentMessageLimit = 1;
            e.ConfigureConsumeTopology = false;
            e.Handler<StartBox>(async ctx =>
            {
                starts.Enqueue(ctx.Message);
                await ctx.Publish(new BoxStarted(ctx.Message.BoxId, Id, EndpointFor(ctx.Message.BoxId), DateTimeOffset.UtcNow));
            });
            e.Handler<StopBox>(async ctx =>
            {
                stops.Enqueue(ctx.Message);
                await ctx.Publish(new BoxStopped(ctx.Message.BoxId, Id, DateTimeOffset.UtcNow));
            });
        }));
        var host = builder.Build();
        await host.StartAsync();
        return new FakeWorker(host, starts, stops);
    }

    /// <summary>Stops heartbeating (the worker looks dead to the scheduler) or resumes.</summary>
    public bool Heartbeating
    {
        get => _heartbeating;
        set => _heartbeating = value;
    }

    public int StartsFor(Guid boxId) => StartsReceived.Count(s => s.BoxId == boxId);
    public int StopsFor(Guid boxId) => StopsReceived.Count(s => s.BoxId == boxId);

    public Task ReportCrash(Guid boxId, string reason) =>
        Bus.Publish(new BoxCrashed(boxId, Id, reason, DateTimeOffset.UtcNow));

    private async Task HeartbeatLoop()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(500));
        do
        {
            if (!_heartbeating) continue;
            try
            {
                await Bus.Publish(new WorkerHeartbeat(Id, "http://127.0.0.1:9222", "local", [BoxKinds.Browser], Capacity, 0, [],
                    DateTimeOffset.UtcNow), _stop.Token);
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
                return;
            }
        } while (await WaitForTick(timer));
    }

    private async Task<bool> WaitForTick(PeriodicTimer timer)
    {
        try { return await timer.WaitForNextTickAsync(_stop.Token); }
        catch (OperationCanceledException) { return false; }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _heartbeats;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        await _host.StopAsync(cts.Token);
        _host.Dispose();
        _stop.Dispose();
    }
}
