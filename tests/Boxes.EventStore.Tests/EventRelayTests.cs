using System.Collections.Concurrent;
using Boxes.Contracts;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using MassTransit;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Xunit;
using Store = Boxes.EventStore.EventStore;

namespace Boxes.EventStore.Tests;

/// <summary>The relay against a real RabbitMQ: everything stored reaches the bus, in order, and a crash duplicates rather than loses.</summary>
public sealed class EventRelayTests : IAsyncLifetime
{
    private PostgresDatabase _db = null!;
    private RabbitMqVirtualHost _vhost = null!;
    private IHost _bus = null!;
    private Store _store = null!;
    private readonly Received _received = new();

    public async Task InitializeAsync()
    {
        _db = await PostgresDatabase.CreateAsync("relay_test");
        _vhost = await RabbitMqVirtualHost.CreateAsync();
        await SqlMigrations.ApplyAsync(_db.DataSource, "event_store", typeof(Store).Assembly);
        _store = new Store(_db.DataSource);

        var builder = Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:RabbitMq"] = _vhost.Url });
        builder.Services.AddSingleton(_received);
        // One delivery at a time at the endpoint, so arrival order is the order RabbitMQ holds them in (a limit on
        // the consumer alone still lets the endpoint dispatch two deliveries that then race for it).
        builder.AddBoxesBus(x => x.AddConsumer<RecordingConsumer>().Endpoint(e => e.ConcurrentMessageLimit = 1));
        _bus = builder.Build();
        await _bus.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _bus.StopAsync();
        _bus.Dispose();
        await _vhost.DisposeAsync();
        await _db.DisposeAsync();
    }

    private async Task<List<Guid>> AppendRequests(int count)
    {
        var ids = new List<Guid>();
        for (var i = 0; i < count; i++)
        {
            var boxId = Guid.NewGuid();
            var e = StoredEvents.ToEventData(
                new BoxRequested(boxId, Guid.NewGuid(), BoxKinds.Browser, new BoxSpec(), DateTimeOffset.UtcNow), Guid.NewGuid());
            await _store.AppendAsync(Streams.ForBox(boxId), ExpectedVersion.NoStream, [e]);
            ids.Add(e.EventId);
        }
        return ids;
    }

    private EventRelay Relay(IEventPublisher publisher) =>
        new(_db.DataSource, publisher, NullLogger<EventRelay>.Instance);

    private IEventPublisher RealPublisher => new MassTransitEventPublisher(_bus.Services.GetRequiredService<IBus>());

    [Fact]
    public async Task Every_appended_event_reaches_the_bus_once_in_log_order_with_its_event_id()
    {
        var appended = await AppendRequests(20);
        using var cts = new CancellationTokenSource();
        var run = Relay(RealPublisher).RunAsync(cts.Token);

        await Eventually.Until(() => _received.Ids.Count >= 20, TimeSpan.FromSeconds(60), "20 relayed events");
        var more = await AppendRequests(3); // appended while the relay waits: woken by the notification
        await Eventually.Until(() => _received.Ids.Count >= 23, TimeSpan.FromSeconds(60), "3 more relayed events");
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        Assert.Equal(appended.Concat(more), _received.Ids);
    }

    [Fact]
    public async Task A_crash_between_publish_and_checkpoint_republishes_and_loses_nothing()
    {
        var appended = await AppendRequests(10);
        var crashing = new CrashAfter(RealPublisher, publishes: 5);
        await Assert.ThrowsAsync<SimulatedCrash>(() => Relay(crashing).RunAsync(CancellationToken.None));
        await Eventually.Until(() => _received.Ids.Count >= 5, TimeSpan.FromSeconds(60), "the 5 events published before the crash");

        // A new relay starts from the old checkpoint: the first five come again, then the rest.
        using var cts = new CancellationTokenSource();
        var run = Relay(RealPublisher).RunAsync(cts.Token);
        await Eventually.Until(() => _received.Ids.Count >= 15, TimeSpan.FromSeconds(60), "all events after the restart");
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => run);

        Assert.All(appended, id => Assert.Contains(id, _received.Ids));
        Assert.Equal(5, _received.Ids.GroupBy(id => id).Count(g => g.Count() == 2));
    }

    [Fact]
    public async Task Two_relays_never_publish_the_same_event_twice_between_them()
    {
        var appended = await AppendRequests(15);
        using var cts = new CancellationTokenSource();
        var first = Relay(RealPublisher).RunAsync(cts.Token);
        var second = Relay(RealPublisher).RunAsync(cts.Token);
        await Eventually.Until(() => _received.Ids.Count >= 15, TimeSpan.FromSeconds(60), "15 relayed events");
        var more = await AppendRequests(5);
        await Eventually.Until(() => _received.Ids.Count >= 20, TimeSpan.FromSeconds(60), "5 more relayed events");
        await cts.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.WhenAll(first, second));

        Assert.Equal(appended.Concat(more), _received.Ids);
    }

    public sealed class Received
    {
        private readonly ConcurrentQueue<Guid> _ids = new();
        public IReadOnlyList<Guid> Ids => _ids.ToArray();
        public void Add(Guid id) => _ids.Enqueue(id);
    }

    public sealed class RecordingConsumer(Received received) : IConsumer<BoxRequested>
    {
        public Task Consume(ConsumeContext<BoxRequested> context)
        {
            received.Add(context.MessageId!.Value);
            return Task.CompletedTask;
        }
    }

    private sealed class SimulatedCrash() : Exception("simulated relay crash after publishing, before the checkpoint");

    /// <summary>Publishes for real, then dies right after the Nth confirmed publish, before any checkpoint is written.</summary>
    private sealed class CrashAfter(IEventPublisher inner, int publishes) : IEventPublisher
    {
        private int _count;
        public async Task PublishAsync(RecordedEvent recorded, CancellationToken ct)
        {
            await inner.PublishAsync(recorded, ct);
            if (++_count == publishes) throw new SimulatedCrash();
        }
    }
}
