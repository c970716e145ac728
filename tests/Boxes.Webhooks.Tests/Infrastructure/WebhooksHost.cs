using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using Boxes.Webhooks.Security;
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

namespace Boxes.Webhooks.Tests.Infrastructure;

/// <summary>A webhook as created: its id and the secret shown once.</summary>
public sealed record CreatedWebhook(Guid Id, string Secret, JsonNode Body);

/// <summary>One running instance of the real webhooks service (in-process), reached over its internal routes.</summary>
public sealed class WebhooksService(WebApplicationFactory<Program> factory, ConsumedEvents consumed) : IAsyncDisposable
{
    /// <summary>What this instance consumed (the fixture's <see cref="WebhooksHost.Consumed"/> counts every instance).</summary>
    public ConsumedEvents Consumed => consumed;

    public WebApplicationFactory<Program> Factory => factory;
    public IServiceProvider Services => factory.Services;

    public HttpClient Client(string? key = WebhooksHost.InternalKey)
    {
        var http = factory.CreateClient();
        if (key is not null) http.DefaultRequestHeaders.Add(InternalApi.HeaderName, key);
        return http;
    }

    public ValueTask DisposeAsync() => factory.DisposeAsync();
}

/// <summary>
/// The webhooks service on a fresh database and RabbitMQ vhost, fed the way production feeds it: events appended to
/// the event store and published by the real relay (EventRelay with MassTransitEventPublisher, in a host of its own
/// playing the API/scheduler's part), delivering to a Kestrel receiver on 127.0.0.1 that the allow-list lets through.
/// Subclasses change the service's settings for what they test (a short retry schedule, a short timeout).
/// </summary>
public class WebhooksHost : IAsyncLifetime
{
    public const string InternalKey = "internal-key-for-webhook-tests-0123";

    public PostgresDatabase Database { get; private set; } = null!;
    public RabbitMqVirtualHost Broker { get; private set; } = null!;
    public ScriptedWebhookReceiver Receiver { get; private set; } = null!;
    public OffsetClock Clock { get; } = new();
    public SwitchableResolver Resolver { get; } = new();
    public ConsumedEvents Consumed { get; } = new();
    public Store Store { get; private set; } = null!;
    /// <summary>The instance most tests talk to; tests may start more, or replace it.</summary>
    public WebhooksService Service { get; set; } = null!;

    private IHost? _relay;

    /// <summary>The service's settings for this class; subclasses add to or override the defaults.</summary>
    protected virtual void Configure(IDictionary<string, string?> settings)
    {
    }

    public async Task InitializeAsync()
    {
        Database = await PostgresDatabase.CreateAsync("webhooks_test");
        Broker = await RabbitMqVirtualHost.CreateAsync();
        Receiver = await ScriptedWebhookReceiver.StartAsync();
        Store = new Store(Database.DataSource);
        // The service first: its migrations make the event store's tables, and its queue must be bound before the
        // relay publishes (RabbitMQ drops what reaches an exchange with no queue).
        Service = StartService();

        var relay = Host.CreateApplicationBuilder();
        relay.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["ConnectionStrings:RabbitMq"] = Broker.Url });
        relay.Logging.ClearProviders();
        relay.Services.AddSingleton(Database.DataSource);
        relay.AddBoxesBus();
        relay.AddEventRelay();
        _relay = relay.Build();
        await _relay.StartAsync();
    }

    public async Task DisposeAsync()
    {
        // Null-tolerant: a start that failed half-way (no PostgreSQL, say) must report that, not a cleanup crash.
        if (_relay is not null)
        {
            await _relay.StopAsync();
            _relay.Dispose();
        }
        if (Service is not null) await Service.DisposeAsync();
        if (Receiver is not null) await Receiver.DisposeAsync();
        if (Broker is not null) await Broker.DisposeAsync();
        if (Database is not null) await Database.DisposeAsync();
    }

    /// <summary>Starts another instance of the service on the same database and vhost (it shares the clock and resolver).</summary>
    public WebhooksService StartService()
    {
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:Boxes"] = Database.ConnectionString,
            ["ConnectionStrings:RabbitMq"] = Broker.Url,
            [InternalApi.ConfigKey] = InternalKey,
            ["Webhooks:AllowedHosts"] = "127.0.0.1/32",
            ["Webhooks:RetrySchedule"] = "0s,300ms,300ms,300ms",
            ["Webhooks:DeliveryTimeout"] = "00:00:02",
            ["Webhooks:PollInterval"] = "00:00:00.200",
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
                s.Replace(ServiceDescriptor.Singleton<IHostResolver>(Resolver));
                s.AddSingleton(Consumed);
                s.AddSingleton(own);
                s.AddConsumeObserver<CountingConsumeObserver>();
            });
        });
        _ = factory.Server; // start: migrations, the bus, the delivery loop
        return new WebhooksService(factory, own);
    }

    public HttpClient Client(string? key = InternalKey) => Service.Client(key);

    // --- the internal routes ---

    public async Task<CreatedWebhook> CreateWebhook(Guid org, string url, params string[] eventTypes)
    {
        var res = await Client().PostAsJsonAsync($"/internal/organizations/{org}/webhooks", new { url, eventTypes });
        var text = await res.Content.ReadAsStringAsync();
        Assert.True(res.StatusCode == HttpStatusCode.Created, $"create answered {(int)res.StatusCode}: {text}");
        var body = JsonNode.Parse(text)!;
        return new CreatedWebhook(Guid.Parse(body["id"]!.GetValue<string>()), body["signingSecret"]!.GetValue<string>(), body);
    }

    public async Task<JsonNode> GetJson(string path)
    {
        var res = await Client().GetAsync(path);
        var text = await res.Content.ReadAsStringAsync();
        Assert.True(res.IsSuccessStatusCode, $"GET {path} answered {(int)res.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    public async Task<JsonNode> PostJson(string path, HttpStatusCode expected = HttpStatusCode.OK)
    {
        var res = await Client().PostAsync(path, null);
        var text = await res.Content.ReadAsStringAsync();
        Assert.True(res.StatusCode == expected, $"POST {path} answered {(int)res.StatusCode}: {text}");
        return JsonNode.Parse(text)!;
    }

    public Task<JsonNode> Webhook(Guid org, Guid id) => GetJson($"/internal/organizations/{org}/webhooks/{id}");

    public async Task<Guid> SendTest(Guid org, Guid id) =>
        Guid.Parse((await PostJson($"/internal/organizations/{org}/webhooks/{id}/test", HttpStatusCode.Accepted))["deliveryId"]!.GetValue<string>());

    public async Task<JsonArray> Deliveries(Guid org, Guid id) =>
        (await GetJson($"/internal/organizations/{org}/webhooks/{id}/deliveries?limit=100"))["items"]!.AsArray();

    /// <summary>Polls the deliveries log until the delivery satisfies <paramref name="done"/>; returns it.</summary>
    public async Task<JsonNode> WaitForDelivery(Guid org, Guid webhookId, Guid deliveryId, Func<JsonNode, bool> done, string what, TimeSpan? timeout = null)
    {
        var delivery = await Eventually.Until(
            async () => (await Deliveries(org, webhookId)).FirstOrDefault(d => d!["deliveryId"]!.GetValue<string>() == deliveryId.ToString()),
            d => d is not null && done(d), timeout ?? TimeSpan.FromSeconds(30), what);
        return delivery!;
    }

    public static string Status(JsonNode delivery) => delivery["status"]!.GetValue<string>();
    public static JsonArray Attempts(JsonNode delivery) => delivery["attempts"]!.AsArray();

    // --- events, as the other services append them ---

    public async Task<RecordedEvent> Append(Guid boxId, object @event)
    {
        var id = Guid.NewGuid();
        await Store.AppendAsync(Streams.ForBox(boxId), ExpectedVersion.Any, [StoredEvents.ToEventData(@event, id)]);
        return (await Store.ReadStreamAsync(Streams.ForBox(boxId))).Single(e => e.EventId == id);
    }

    /// <summary>A box the API would have accepted: BoxRequested for <paramref name="org"/>.</summary>
    public async Task<(Guid BoxId, RecordedEvent Requested)> RequestBox(Guid org, string kind, DateTimeOffset at, BoxSpec? spec = null)
    {
        var boxId = Guid.NewGuid();
        spec ??= kind == BoxKinds.Sandbox ? new BoxSpec { Runtime = "python", Size = "standard" } : new BoxSpec { Weight = "light" };
        return (boxId, await Append(boxId, new BoxRequested(boxId, org, kind, spec, at)));
    }

    /// <summary>The scheduler's part up to ready.</summary>
    public async Task<RecordedEvent> MakeReady(Guid boxId, DateTimeOffset at)
    {
        await Append(boxId, new BoxScheduling(boxId, at));
        await Append(boxId, new BoxPlaced(boxId, "worker-test", at));
        return await Append(boxId, new BoxReady(boxId, "worker-test", "ws://127.0.0.1:1/devtools", at));
    }

    /// <summary>Publishes a stored event again, exactly as the relay does (same message id and headers): a redelivery.</summary>
    public Task PublishAgain(RecordedEvent recorded) =>
        new MassTransitEventPublisher(_relay!.Services.GetRequiredService<IBus>()).PublishAsync(recorded, CancellationToken.None);

    /// <summary>Waits until the service instances have consumed the event at least <paramref name="times"/> times.</summary>
    public Task WaitUntilConsumed(RecordedEvent recorded, int times = 1) =>
        Eventually.Until(() => Consumed.Count(recorded.EventId) >= times, TimeSpan.FromSeconds(30),
            $"{recorded.Type} {recorded.EventId} consumed {times} time(s)");

    /// <summary>Delivery rows of an endpoint straight from the service's table: (type, event id).</summary>
    public async Task<IReadOnlyList<(string Type, Guid EventId, Guid DeliveryId)>> DeliveryRows(Guid webhookId)
    {
        await using var cmd = Database.DataSource.CreateCommand(
            "SELECT type, event_id, id FROM webhooks.deliveries WHERE endpoint_id = $1 ORDER BY created_at, id");
        cmd.Parameters.Add(new() { Value = webhookId });
        var rows = new List<(string, Guid, Guid)>();
        await using var r = await cmd.ExecuteReaderAsync();
        while (await r.ReadAsync()) rows.Add((r.GetString(0), r.GetGuid(1), r.GetGuid(2)));
        return rows;
    }

    /// <summary>A loopback port nothing listens on right now (a refused connection).</summary>
    public static int ClosedPort()
    {
        var probe = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        probe.Start();
        var port = ((IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public static string NewPath() => "hooks/" + Guid.NewGuid().ToString("N")[..12];
}
