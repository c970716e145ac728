using System.Net;
using System.Text.Json.Nodes;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using MassTransit;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;
using Store = Boxes.EventStore.EventStore;

namespace Boxes.Billing.Tests.Infrastructure;

/// <summary>A box the tests made: its id, organisation and the stored BoxRequested.</summary>
public sealed record TestBox(Guid BoxId, Guid OrganizationId, string Kind, RecordedEvent Requested);

/// <summary>A usage record straight from the service's table.</summary>
public sealed record StoredRecord(
    Guid Id, Guid OrganizationId, Guid BoxId, string Kind, string? Weight, string? Size,
    DateTimeOffset Start, DateTimeOffset End, long DurationMs, decimal Vcpus, long VcpuMs);

/// <summary>An answer of the feed: status, the exact bytes, the next cursor and the content type.</summary>
public sealed record ExportResponse(HttpStatusCode Status, byte[] Body, string? NextCursor, string? ContentType)
{
    public string Text => System.Text.Encoding.UTF8.GetString(Body);
}

/// <summary>One running instance of the real billing service (in-process), reached over its internal routes.</summary>
public sealed class BillingService(WebApplicationFactory<Program> factory, ConsumedEvents consumed) : IAsyncDisposable
{
    public ConsumedEvents Consumed => consumed;
    public IServiceProvider Services => factory.Services;

    public HttpClient Client(string? key = BillingHost.InternalKey)
    {
        var http = factory.CreateClient();
        if (key is not null) http.DefaultRequestHeaders.Add(InternalApi.HeaderName, key);
        return http;
    }

    public ValueTask DisposeAsync() => factory.DisposeAsync();
}

/// <summary>
/// The billing service on a fresh database and RabbitMQ vhost, fed the way production feeds it: events appended to the
/// event store and published by the real relay (EventRelay with MassTransitEventPublisher, in a host of its own playing
/// the API's and scheduler's part). A class that must choose the order of deliveries itself turns the relay off and
/// publishes with <see cref="Publish"/>, which is what the relay does. Subclasses change the service's settings.
/// </summary>
public class BillingHost : IAsyncLifetime
{
    public const string InternalKey = "internal-key-for-billing-tests-0123";

    public PostgresDatabase Database { get; private set; } = null!;
    public RabbitMqVirtualHost Broker { get; private set; } = null!;
    public TestClock Clock { get; } = new();
    public ConsumedEvents Consumed { get; } = new();
    public Store Store { get; private set; } = null!;
    public BillingService Service { get; private set; } = null!;

    private IHost? _publisher;

    /// <summary>False: no relay; the test publishes every event itself, in the order it chooses.</summary>
    protected virtual bool RunsRelay => true;

    /// <summary>
    /// True: the service's clock is moved to each event's timestamp just before the event is appended, as it is in
    /// production, where the API and the scheduler stamp an event with the time they append it. (Appending an event
    /// stamped months ago to a box the service already saw running would be a pause "appended late" by months, which
    /// Billing:Grace does not cover.) False for classes that use real time and stamp events with it.
    /// </summary>
    protected virtual bool ClockFollowsEvents => true;

    /// <summary>The service's settings for this class; subclasses add to or override them.</summary>
    protected virtual void Configure(IDictionary<string, string?> settings)
    {
    }

    public async Task InitializeAsync()
    {
        Database = await PostgresDatabase.CreateAsync("billing_test");
        Broker = await RabbitMqVirtualHost.CreateAsync();
        Store = new Store(Database.DataSource);
        // The service first: its migrations make the event store's tables, and its queue must be bound before anything
        // is published (RabbitMQ drops what reaches an exchange with no queue).
        Service = StartService();

        var publisher = Host.CreateApplicationBuilder();
        publisher.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:RabbitMq"] = Broker.Url });
        publisher.Logging.ClearProviders();
        publisher.Services.AddSingleton(Database.DataSource);
        publisher.AddBoxesBus();
        if (RunsRelay) publisher.AddEventRelay();
        _publisher = publisher.Build();
        await _publisher.StartAsync();
    }

    public async Task DisposeAsync()
    {
        // Null-tolerant: a start that failed half-way (no PostgreSQL, say) must report that, not a cleanup crash.
        if (_publisher is not null)
        {
            await _publisher.StopAsync();
            _publisher.Dispose();
        }
        if (Service is not null) await Service.DisposeAsync();
        if (Broker is not null) await Broker.DisposeAsync();
        if (Database is not null) await Database.DisposeAsync();
    }

    /// <summary>Starts an instance of the service on the fixture's database and vhost (instances share the clock).</summary>
    public BillingService StartService()
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Boxes"] = Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = Broker.Url,
            [InternalApi.ConfigKey] = InternalKey,
            ["Billing:CloseEvery"] = "00:00:00.100",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        Configure(settings);
        var own = new ConsumedEvents();
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            foreach (var (key, value) in settings) web.UseSetting(key, value);
            web.ConfigureServices(s =>
            {
                s.Replace(ServiceDescriptor.Singleton<TimeProvider>(Clock));
                s.AddSingleton(Consumed);
                s.AddSingleton(own);
                s.AddConsumeObserver<CountingConsumeObserver>();
            });
        });
        _ = factory.Server; // start: migrations, the bus, the closer
        return new BillingService(factory, own);
    }

    public HttpClient Client(string? key = InternalKey) => Service.Client(key);

    // --- events, as the API and the scheduler append them ---

    public async Task<RecordedEvent> Append(Guid boxId, object @event)
    {
        if (ClockFollowsEvents) Clock.Freeze(TimestampOf(@event));
        var id = Guid.NewGuid();
        await Store.AppendAsync(Streams.ForBox(boxId), ExpectedVersion.Any, [StoredEvents.ToEventData(@event, id)]);
        return (await Store.ReadStreamAsync(Streams.ForBox(boxId))).Single(e => e.EventId == id);
    }

    /// <summary>Appends without moving the clock: an event appended after its own timestamp, as a slow writer would.</summary>
    public async Task<RecordedEvent> AppendLate(Guid boxId, object @event)
    {
        var id = Guid.NewGuid();
        await Store.AppendAsync(Streams.ForBox(boxId), ExpectedVersion.Any, [StoredEvents.ToEventData(@event, id)]);
        return (await Store.ReadStreamAsync(Streams.ForBox(boxId))).Single(e => e.EventId == id);
    }

    private static DateTimeOffset TimestampOf(object e) => e switch
    {
        BoxRequested x => x.Timestamp,
        BoxScheduling x => x.Timestamp,
        BoxPlaced x => x.Timestamp,
        BoxReady x => x.Timestamp,
        BoxPaused x => x.Timestamp,
        BoxResumed x => x.Timestamp,
        BoxEnded x => x.Timestamp,
        BoxFailed x => x.Timestamp,
        _ => throw new ArgumentException($"{e.GetType().Name} is not a box event these tests append"),
    };

    /// <summary>A box the API would have accepted. <paramref name="weightOrSize"/>: a browser's weight or a sandbox's size.</summary>
    public async Task<TestBox> RequestBox(Guid org, string kind, string weightOrSize, DateTimeOffset at)
    {
        var boxId = Guid.NewGuid();
        var spec = kind == BoxKinds.Sandbox ? new BoxSpec { Runtime = "python", Size = weightOrSize } : new BoxSpec { Weight = weightOrSize };
        return new TestBox(boxId, org, kind, await Append(boxId, new BoxRequested(boxId, org, kind, spec, at)));
    }

    /// <summary>The scheduler's part up to ready; returns the stored BoxReady.</summary>
    public async Task<RecordedEvent> Ready(TestBox box, DateTimeOffset at)
    {
        await Append(box.BoxId, new BoxScheduling(box.BoxId, at));
        await Append(box.BoxId, new BoxPlaced(box.BoxId, "worker-test", at));
        return await Append(box.BoxId, new BoxReady(box.BoxId, "worker-test", "ws://127.0.0.1:1/devtools", at));
    }

    public Task<RecordedEvent> Pause(TestBox box, DateTimeOffset at) => Append(box.BoxId, new BoxPaused(box.BoxId, at));
    public Task<RecordedEvent> Resume(TestBox box, DateTimeOffset at) => Append(box.BoxId, new BoxResumed(box.BoxId, at));
    public Task<RecordedEvent> End(TestBox box, DateTimeOffset at) => Append(box.BoxId, new BoxEnded(box.BoxId, EndReasons.ClosedByOwner, at));
    public Task<RecordedEvent> Fail(TestBox box, string reason, DateTimeOffset at) =>
        Append(box.BoxId, new BoxFailed(box.BoxId, "BOX_FAILED", reason, at));

    /// <summary>A whole box: requested, ready at <paramref name="readyAt"/>, ended at <paramref name="endedAt"/>; returns it and its BoxEnded.</summary>
    public async Task<(TestBox Box, RecordedEvent Ended)> RanBox(Guid org, string kind, string weightOrSize, DateTimeOffset readyAt, DateTimeOffset endedAt)
    {
        var box = await RequestBox(org, kind, weightOrSize, readyAt.AddSeconds(-1));
        await Ready(box, readyAt);
        return (box, await End(box, endedAt));
    }

    /// <summary>Publishes a stored event exactly as the relay does (same message id and headers): a delivery, or a redelivery.</summary>
    public Task Publish(RecordedEvent recorded) =>
        new MassTransitEventPublisher(_publisher!.Services.GetRequiredService<IBus>()).PublishAsync(recorded, CancellationToken.None);

    /// <summary>Waits until the service instances have consumed the event at least <paramref name="times"/> times.</summary>
    public Task WaitUntilConsumed(RecordedEvent recorded, int times = 1) =>
        Eventually.Until(() => Consumed.Count(recorded.EventId) >= times, TimeSpan.FromSeconds(60),
            $"{recorded.Type} {recorded.EventId} consumed {times} time(s) (so far {Consumed.Count(recorded.EventId)})");

    // --- what the service wrote ---

    public async Task<IReadOnlyList<StoredRecord>> Records(Guid boxId)
    {
        await using var cmd = Database.DataSource.CreateCommand("""
            SELECT id, organization_id, box_id, kind, weight, size, start_at, end_at, duration_ms, vcpus, vcpu_ms
            FROM billing.usage_records WHERE box_id = $1 ORDER BY start_at
            """);
        cmd.Parameters.Add(new() { Value = boxId });
        return await ReadRecords(cmd);
    }

    public async Task<IReadOnlyList<StoredRecord>> AllRecords()
    {
        await using var cmd = Database.DataSource.CreateCommand("""
            SELECT id, organization_id, box_id, kind, weight, size, start_at, end_at, duration_ms, vcpus, vcpu_ms
            FROM billing.usage_records ORDER BY transaction_id, seq
            """);
        return await ReadRecords(cmd);
    }

    private static async Task<IReadOnlyList<StoredRecord>> ReadRecords(Npgsql.NpgsqlCommand cmd)
    {
        var list = new List<StoredRecord>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync())
            list.Add(new StoredRecord(r.GetGuid(0), r.GetGuid(1), r.GetGuid(2), r.GetString(3),
                r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetString(5),
                r.GetFieldValue<DateTimeOffset>(6), r.GetFieldValue<DateTimeOffset>(7), r.GetInt64(8), r.GetDecimal(9), r.GetInt64(10)));
        return list;
    }

    /// <summary>Polls the box's records until <paramref name="done"/> holds; returns them.</summary>
    public async Task<IReadOnlyList<StoredRecord>> WaitForRecords(Guid boxId, Func<IReadOnlyList<StoredRecord>, bool> done, string what) =>
        await Eventually.Until(() => Records(boxId), done, TimeSpan.FromSeconds(30), what);

    /// <summary>Whether the service counts the box as running (the closer's list).</summary>
    public async Task<bool?> IsRunning(Guid boxId)
    {
        await using var cmd = Database.DataSource.CreateCommand("SELECT running FROM billing.boxes WHERE box_id = $1");
        cmd.Parameters.Add(new() { Value = boxId });
        return await cmd.ExecuteScalarAsync() as bool?;
    }

    // --- the internal routes ---

    public async Task<JsonNode> Usage(Guid org, string query = "")
    {
        var res = await Client().GetAsync($"/internal/organizations/{org}/usage{query}");
        var text = await res.Content.ReadAsStringAsync();
        Assert.True(res.StatusCode == HttpStatusCode.OK, $"usage answered {(int)res.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    public async Task<ExportResponse> Export(string pathAndQuery)
    {
        var res = await Client().GetAsync(pathAndQuery);
        return new ExportResponse(res.StatusCode, await res.Content.ReadAsByteArrayAsync(),
            res.Headers.TryGetValues("X-Next-Cursor", out var v) ? v.Single() : null,
            res.Content.Headers.ContentType?.ToString());
    }

    /// <summary>A moment well inside one day of its own for a test (fixed dates keep expectations exact; a fresh organisation keeps tests apart).</summary>
    public static DateTimeOffset At(string iso) => DateTimeOffset.Parse(iso, System.Globalization.CultureInfo.InvariantCulture,
        System.Globalization.DateTimeStyles.AssumeUniversal | System.Globalization.DateTimeStyles.AdjustToUniversal);
}
