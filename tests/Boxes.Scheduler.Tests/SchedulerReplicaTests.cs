using Boxes.Contracts;
using Boxes.Scheduler.Tests.Infrastructure;
using Boxes.Testing;
using MassTransit;
using Xunit.Abstractions;

namespace Boxes.Scheduler.Tests;

/// <summary>Several scheduler processes on one database and virtual host, and schedulers that restart.</summary>
public sealed class SchedulerReplicaTests(ITestOutputHelper output) : IAsyncLifetime
{
    private PostgresDatabase _db = null!;
    private RabbitMqVirtualHost _vhost = null!;
    private FakeWorker _worker = null!;
    private BoxStreams _boxes = null!;
    private readonly List<SchedulerHost> _schedulers = [];

    public async Task InitializeAsync()
    {
        _db = await PostgresDatabase.CreateAsync("scheduler_replicas");
        _vhost = await RabbitMqVirtualHost.CreateAsync();
        _boxes = new BoxStreams(new EventStore.EventStore(_db.DataSource));
    }

    /// <summary>Starts scheduler processes side by side (as replicas that come up together do) and waits until they know the worker.</summary>
    private async Task<SchedulerHost[]> StartSchedulers(int count)
    {
        var heartbeats = HeartbeatsConsumed();
        var started = await Task.WhenAll(Enumerable.Range(0, count).Select(_ => SchedulerHost.StartAsync(_db, _vhost, LifecycleFixture.Settings)));
        _schedulers.AddRange(started);
        _worker ??= await FakeWorker.StartAsync(_vhost);
        // Heartbeats go to whichever replica's consumer is free: any of them taking one in will do.
        await Eventually.Until(() => HeartbeatsConsumed() > heartbeats, BoxStreams.Patience, "a scheduler to take in a heartbeat");
        return started;
    }

    private int HeartbeatsConsumed() => _schedulers.Sum(s => s.Consumed.Count<WorkerHeartbeat>(_ => true));

    public async Task DisposeAsync()
    {
        if (_worker is not null) await _worker.DisposeAsync();
        foreach (var s in _schedulers) await s.DisposeAsync();
        await _vhost.DisposeAsync();
        await _db.DisposeAsync();
    }

    [Fact]
    public async Task Two_schedulers_given_the_same_request_at_once_place_the_box_once()
    {
        var schedulers = await StartSchedulers(2);

        var (request, eventId) = await _boxes.Request();
        // While the relay publishes the stored request, the same request arrives many times more at both
        // schedulers' competing consumers: half as redeliveries (same message id), half as new messages.
        const int copies = 12;
        await Task.WhenAll(Enumerable.Range(0, copies).Select(i => i % 2 == 0
            ? _worker.Bus.Publish(request, ctx => ctx.MessageId = eventId)
            : _worker.Bus.Publish(request)));
        await Eventually.Until(
            () => schedulers.Sum(s => s.Consumed.Count<BoxRequested>(r => r.BoxId == request.BoxId)) >= copies + 1,
            BoxStreams.Patience, "both schedulers to handle every copy of the request");
        await _boxes.WaitFor(request.BoxId, BoxStatuses.Ready);
        await _boxes.StopRequested(request.BoxId);
        await _boxes.WaitFor(request.BoxId, BoxStatuses.Ended);
        await Eventually.Until(() => _worker.StopsFor(request.BoxId) > 0, BoxStreams.Patience, "the worker to get StopBox");

        Assert.Equal(1, _worker.StartsFor(request.BoxId));
        var events = await _boxes.Events(request.BoxId);
        Assert.Single(events.OfType<BoxScheduling>());
        Assert.Single(events.OfType<BoxPlaced>());
        Assert.Single(events.OfType<BoxReady>());
        Assert.Single(events.OfType<BoxEnded>());
    }

    [Fact]
    public async Task A_pending_max_duration_timer_survives_a_scheduler_restart()
    {
        const int maxDurationMs = 4000;
        var before = (await StartSchedulers(1))[0];
        var (request, _) = await _boxes.Request(new BoxSpec { MaxDurationMs = maxDurationMs });
        var ready = await _boxes.WaitFor(request.BoxId, BoxStatuses.Ready);

        await before.StopAsync();
        Assert.True((await _boxes.View(request.BoxId))!.Status == BoxStatuses.Ready,
            "precondition: the box must still be ready when its scheduler stops, or the restart proves nothing");
        var restartedAt = DateTimeOffset.UtcNow;
        await StartSchedulers(1);
        var view = await _boxes.WaitFor(request.BoxId, BoxStatuses.Ended, TimeSpan.FromSeconds(30));

        Assert.Equal(EndReasons.MaxDurationReached, view.EndReason);
        var ending = Assert.Single((await _boxes.Events(request.BoxId)).OfType<BoxEnding>());
        Assert.True(ending.Timestamp >= ready.ReadyAt!.Value.AddMilliseconds(maxDurationMs),
            $"ending at {ending.Timestamp:O}, ready at {ready.ReadyAt:O}");
        output.WriteLine($"ready {ready.ReadyAt:O}, first scheduler stopped {restartedAt:O}, ending {ending.Timestamp:O}");
        Assert.True(ending.Timestamp >= restartedAt, "the timer fired in the scheduler that started after the restart");
    }
}
