using Boxes.Contracts;
using Boxes.Scheduler.Tests.Infrastructure;
using Boxes.Testing;
using MassTransit;

namespace Boxes.Scheduler.Tests;

/// <summary>One scheduler, one fake worker, a database and a virtual host of their own, shared by the lifecycle tests.</summary>
public sealed class LifecycleFixture : IAsyncLifetime
{
    public PostgresDatabase Db { get; private set; } = null!;
    public RabbitMqVirtualHost Vhost { get; private set; } = null!;
    public SchedulerHost Scheduler { get; private set; } = null!;
    public FakeWorker Worker { get; private set; } = null!;
    public BoxStreams Boxes { get; private set; } = null!;

    public static readonly Dictionary<string, string?> Settings = new()
    {
        ["Scheduler:ReadyTimeout"] = "00:00:02",
        ["Scheduler:WorkerLostAfter"] = "00:00:02",
        ["Scheduler:LostWorkerSweepInterval"] = "00:00:00.5",
        ["Scheduler:StopTimeout"] = "00:00:10",
    };

    public async Task InitializeAsync()
    {
        Db = await PostgresDatabase.CreateAsync("scheduler_lifecycle");
        Vhost = await RabbitMqVirtualHost.CreateAsync();
        Scheduler = await SchedulerHost.StartAsync(Db, Vhost, Settings);
        Worker = await FakeWorker.StartAsync(Vhost);
        Boxes = new BoxStreams(new EventStore.EventStore(Db.DataSource));
        await WorkerKnown();
    }

    /// <summary>Waits until the scheduler has taken in a heartbeat sent after this call.</summary>
    public async Task WorkerKnown()
    {
        var seen = Scheduler.Consumed.Count<WorkerHeartbeat>(h => h.WorkerId == FakeWorker.Id);
        await Eventually.Until(() => Scheduler.Consumed.Count<WorkerHeartbeat>(h => h.WorkerId == FakeWorker.Id) > seen,
            BoxStreams.Patience, "the scheduler to take in a heartbeat of the fake worker");
    }

    public async Task DisposeAsync()
    {
        if (Worker is not null) await Worker.DisposeAsync();
        if (Scheduler is not null) await Scheduler.DisposeAsync();
        if (Vhost is not null) await Vhost.DisposeAsync();
        if (Db is not null) await Db.DisposeAsync();
    }
}

/// <summary>The box saga end to end on real PostgreSQL and RabbitMQ: stored requests in, stored lifecycle events out.</summary>
public sealed class BoxLifecycleTests(LifecycleFixture f) : IClassFixture<LifecycleFixture>
{
    [Fact]
    public async Task A_requested_box_becomes_ready_with_the_workers_endpoint()
    {
        var (request, _) = await f.Boxes.Request();

        var view = await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Ready);

        Assert.Equal(FakeWorker.Id, view.WorkerId);
        Assert.Equal(FakeWorker.EndpointFor(request.BoxId), view.Endpoint);
        Assert.NotNull(view.ReadyAt);
        var types = (await f.Boxes.Events(request.BoxId)).Select(e => e.GetType()).ToList();
        Assert.Equal([typeof(BoxRequested), typeof(BoxScheduling), typeof(BoxPlaced), typeof(BoxReady)], types);
        var start = Assert.Single(f.Worker.StartsReceived, s => s.BoxId == request.BoxId);
        Assert.Equal(request.OrganizationId, start.OrganizationId);
        await f.Boxes.Close(request.BoxId);
    }

    [Fact]
    public async Task Closing_a_ready_box_ends_it_as_closed_by_owner_and_stops_it_on_its_worker()
    {
        var (request, _) = await f.Boxes.Request();
        await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Ready);

        await f.Boxes.StopRequested(request.BoxId);
        var view = await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Ended);

        Assert.Equal(EndReasons.ClosedByOwner, view.EndReason);
        Assert.Null(view.Endpoint);
        var stop = Assert.Single(f.Worker.StopsReceived, s => s.BoxId == request.BoxId);
        Assert.Equal(EndReasons.ClosedByOwner, stop.Reason);
        var events = await f.Boxes.Events(request.BoxId);
        Assert.Equal(EndReasons.ClosedByOwner, Assert.Single(events.OfType<BoxEnding>()).EndReason);
        Assert.Single(events.OfType<BoxEnded>());
    }

    [Fact]
    public async Task A_box_no_worker_can_take_fails_with_SCHEDULING_FAILED_after_the_ready_timeout()
    {
        // The only worker runs browsers: a sandbox finds no room anywhere.
        var (request, _) = await f.Boxes.Request(kind: BoxKinds.Sandbox);

        var view = await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Failed);

        Assert.Equal("SCHEDULING_FAILED", view.FailureCode);
        Assert.StartsWith(EndReasons.SchedulingTimeout, view.EndReason);
        Assert.Null(view.WorkerId);
        Assert.Empty((await f.Boxes.Events(request.BoxId)).OfType<BoxPlaced>());
        Assert.Equal(0, f.Worker.StartsFor(request.BoxId));
    }

    [Fact]
    public async Task A_box_reaching_its_max_duration_ends_with_max_duration_reached()
    {
        const int maxDurationMs = 1500;
        var (request, _) = await f.Boxes.Request(new BoxSpec { MaxDurationMs = maxDurationMs });
        var ready = await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Ready);

        var view = await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Ended);

        Assert.Equal(EndReasons.MaxDurationReached, view.EndReason);
        Assert.Equal(EndReasons.MaxDurationReached, Assert.Single(f.Worker.StopsReceived, s => s.BoxId == request.BoxId).Reason);
        // Not early: the box began ending no sooner than maxDurationMs after it was ready.
        var ending = Assert.Single((await f.Boxes.Events(request.BoxId)).OfType<BoxEnding>());
        Assert.True(ending.Timestamp >= ready.ReadyAt!.Value.AddMilliseconds(maxDurationMs),
            $"ending at {ending.Timestamp:O}, ready at {ready.ReadyAt:O}");
    }

    [Fact]
    public async Task A_crash_report_fails_the_box_with_BOX_CRASHED()
    {
        var (request, _) = await f.Boxes.Request();
        await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Ready);

        await f.Worker.ReportCrash(request.BoxId, "chromium exited with signal 11");
        var view = await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Failed);

        Assert.Equal("BOX_CRASHED", view.FailureCode);
        Assert.StartsWith(EndReasons.ProcessCrashed, view.EndReason);
        Assert.Contains("chromium exited with signal 11", view.EndReason);
    }

    [Fact]
    public async Task A_worker_that_stops_heartbeating_fails_its_boxes_with_WORKER_LOST()
    {
        var (request, _) = await f.Boxes.Request();
        await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Ready);

        f.Worker.Heartbeating = false;
        try
        {
            var view = await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Failed);

            Assert.Equal("WORKER_LOST", view.FailureCode);
            Assert.StartsWith(EndReasons.WorkerLost, view.EndReason);
        }
        finally
        {
            f.Worker.Heartbeating = true;
            await f.WorkerKnown();
        }
    }

    [Fact]
    public async Task A_redelivered_request_places_the_box_once()
    {
        var (request, eventId) = await f.Boxes.Request();
        await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Ready);

        // The broker redelivers the relayed message (same message id), and the request is stored a second time.
        await f.Worker.Bus.Publish(request, ctx => ctx.MessageId = eventId);
        await f.Boxes.Append(request.BoxId, request with { Timestamp = DateTimeOffset.UtcNow });
        await Eventually.Until(() => f.Scheduler.Consumed.Count<BoxRequested>(r => r.BoxId == request.BoxId) >= 3,
            BoxStreams.Patience, "the scheduler to handle both duplicates");
        // Anything the duplicates sent the worker would be queued ahead of this stop.
        await f.Boxes.StopRequested(request.BoxId);
        await f.Boxes.WaitFor(request.BoxId, BoxStatuses.Ended);
        await Eventually.Until(() => f.Worker.StopsFor(request.BoxId) > 0, BoxStreams.Patience, "the worker to get StopBox");

        Assert.Equal(1, f.Worker.StartsFor(request.BoxId));
        var events = await f.Boxes.Events(request.BoxId);
        Assert.Single(events.OfType<BoxScheduling>());
        Assert.Single(events.OfType<BoxPlaced>());
        Assert.Single(events.OfType<BoxReady>());
    }

    [Fact]
    public async Task Concurrent_requests_never_put_more_on_a_worker_than_its_capacity()
    {
        // Light boxes take one slot each: two more than the worker holds, all at once.
        var requests = await Task.WhenAll(Enumerable.Range(0, FakeWorker.Capacity + 2).Select(_ => f.Boxes.Request()));
        var ids = requests.Select(r => r.Request.BoxId).ToList();
        try
        {
            var views = await Eventually.Until(async () => await Task.WhenAll(ids.Select(f.Boxes.View)),
                vs => vs.All(v => v is not null && v.Status is BoxStatuses.Ready or BoxStatuses.Failed),
                BoxStreams.Patience, "every box to be ready or to have failed");

            Assert.Equal(FakeWorker.Capacity, views.Count(v => v!.Status == BoxStatuses.Ready));
            Assert.All(views.Where(v => v!.Status == BoxStatuses.Failed), v => Assert.Equal("SCHEDULING_FAILED", v!.FailureCode));
            Assert.Equal(FakeWorker.Capacity, ids.Sum(f.Worker.StartsFor));
        }
        finally
        {
            await Task.WhenAll(ids.Select(f.Boxes.Close));
        }
    }
}
