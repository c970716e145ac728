using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Npgsql;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>A clock the tests move by hand.</summary>
public sealed class ManualClock : TimeProvider
{
    public DateTimeOffset Now { get; set; } = DateTimeOffset.UtcNow;
    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>
/// The real API in-process, on its own database and RabbitMQ vhost (no scheduler: tests play its part by appending events).
/// In memory (TestServer) by default; <see cref="KestrelApiHost"/> runs the same on a real Kestrel port.
/// </summary>
public class ApiHost : IAsyncLifetime
{
    private readonly bool _overKestrel;

    public ApiHost() : this(overKestrel: false)
    {
    }

    protected ApiHost(bool overKestrel) => _overKestrel = overKestrel;

    public const string AdminKey = "br_admin_test_key_0123456789abcdef";
    public const string InternalKey = "internal_test_key_0123456789abcdef";
    /// <summary>Short, so that the test of a sandbox that never becomes ready does not wait the production 30 s.</summary>
    public static readonly TimeSpan SandboxStartWait = TimeSpan.FromSeconds(5);
    public PostgresDatabase Database { get; private set; } = null!;
    public RabbitMqVirtualHost Broker { get; private set; } = null!;
    public WebApplicationFactory<Program> Factory { get; private set; } = null!;
    public ManualClock Clock { get; } = new();
    /// <summary>The artifacts service this API talks to (Artifacts:Address).</summary>
    public FakeArtifacts Artifacts { get; private set; } = null!;
    /// <summary>The webhooks service this API talks to (Webhooks:Address), never the platform's own on 8084.</summary>
    public FakeWebhooks Webhooks { get; private set; } = null!;
    /// <summary>The billing service this API talks to (Billing:Address), never the platform's own on 8083.</summary>
    public FakeBilling Billing { get; private set; } = null!;
    public EventStore.EventStore Store => Factory.Services.GetRequiredService<EventStore.EventStore>();
    /// <summary>Boxes:PublicUrl: where the URLs the API hands out (cdpUrl, terminalUrl, download links) point.</summary>
    public string PublicUrl { get; private set; } = "http://localhost";

    public async Task InitializeAsync()
    {
        Database = await PostgresDatabase.CreateAsync("api_test");
        Broker = await RabbitMqVirtualHost.CreateAsync();
        Artifacts = await FakeArtifacts.StartAsync(InternalKey);
        Webhooks = await FakeWebhooks.StartAsync(InternalKey);
        Billing = await FakeBilling.StartAsync(InternalKey);
        var port = _overKestrel ? FreeLoopbackPort() : 0;
        if (_overKestrel) PublicUrl = $"http://127.0.0.1:{port}";
        Factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:Boxes", Database.ConnectionString);
            web.UseSetting("ConnectionStrings:RabbitMq", Broker.Url);
            web.UseSetting("Boxes:AdminKey", AdminKey);
            web.UseSetting("Boxes:TokenSigningKey", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            web.UseSetting("Boxes:PublicUrl", PublicUrl);
            web.UseSetting("Boxes:InternalKey", InternalKey);
            web.UseSetting("Boxes:SandboxStartWait", SandboxStartWait.ToString());
            web.UseSetting("Artifacts:Address", Artifacts.Address);
            web.UseSetting("Webhooks:Address", Webhooks.Address);
            web.UseSetting("Billing:Address", Billing.Address);
            web.ConfigureServices(s => s.Replace(ServiceDescriptor.Singleton<TimeProvider>(Clock)));
            if (_overKestrel) web.UseUrls(PublicUrl);
        });
        // Start it: migrations run, the bus connects.
        if (_overKestrel)
        {
            Factory.UseKestrel();
            Factory.StartServer();
        }
        else
        {
            _ = Factory.Server;
        }
    }

    /// <summary>A port free right now, so that Boxes:PublicUrl can name the address before the server binds it.</summary>
    public static int FreeLoopbackPort()
    {
        var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        return port;
    }

    public async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        await Artifacts.DisposeAsync();
        await Webhooks.DisposeAsync();
        await Billing.DisposeAsync();
        await Broker.DisposeAsync();
        await Database.DisposeAsync();
    }

    public HttpClient Client(string? key = null)
    {
        var http = Factory.CreateClient();
        if (key is not null) http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    public async Task<(Guid Id, string Key)> CreateOrganization(string plan = "pro")
    {
        var res = await Client(AdminKey).PostAsJsonAsync("/v1/admin/organizations", new { name = "org-" + Guid.NewGuid().ToString("N")[..8], plan });
        res.EnsureSuccessStatusCode();
        var body = JsonNode.Parse(await res.Content.ReadAsStringAsync())!;
        return (Guid.Parse(body["id"]!.GetValue<string>()), body["apiKey"]!.GetValue<string>());
    }

    public async Task<long> CountEvents(string? type = null)
    {
        await using var cmd = Database.DataSource.CreateCommand("SELECT count(*) FROM event_store.events WHERE $1::text IS NULL OR type = $1");
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)type ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>Appends events to a box's stream as another service would (the scheduler, the artifacts service).</summary>
    public Task Append(Guid boxId, params object[] events) =>
        Store.AppendAsync(Streams.ForBox(boxId), ExpectedVersion.Any, events.Select(e => StoredEvents.ToEventData(e, Guid.NewGuid())).ToList());

    /// <summary>Plays the scheduler: moves a box to ready with the given endpoint.</summary>
    public async Task MakeReady(Guid boxId, string endpoint)
    {
        var now = Clock.GetUtcNow();
        await Store.AppendAsync(Streams.ForBox(boxId), ExpectedVersion.Any,
        [
            StoredEvents.ToEventData(new BoxScheduling(boxId, now), Guid.NewGuid()),
            StoredEvents.ToEventData(new BoxPlaced(boxId, "worker-test", now), Guid.NewGuid()),
            StoredEvents.ToEventData(new BoxReady(boxId, "worker-test", endpoint, now), Guid.NewGuid()),
        ]);
    }
}

/// <summary>The API on a real Kestrel port: request body limits, and URLs a plain WebSocket client opens as they are.</summary>
public sealed class KestrelApiHost() : ApiHost(overKestrel: true);
