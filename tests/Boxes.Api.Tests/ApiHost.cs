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

/// <summary>The real API in-process, on its own database and RabbitMQ vhost (no scheduler: tests play its part by appending events).</summary>
public sealed class ApiHost : IAsyncLifetime
{
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
    public EventStore.EventStore Store => Factory.Services.GetRequiredService<EventStore.EventStore>();

    public async Task InitializeAsync()
    {
        Database = await PostgresDatabase.CreateAsync("api_test");
        Broker = await RabbitMqVirtualHost.CreateAsync();
        Artifacts = await FakeArtifacts.StartAsync(InternalKey);
        Factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:Boxes", Database.ConnectionString);
            web.UseSetting("ConnectionStrings:RabbitMq", Broker.Url);
            web.UseSetting("Boxes:AdminKey", AdminKey);
            web.UseSetting("Boxes:TokenSigningKey", Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
            web.UseSetting("Boxes:PublicUrl", "http://localhost");
            web.UseSetting("Boxes:InternalKey", InternalKey);
            web.UseSetting("Boxes:SandboxStartWait", SandboxStartWait.ToString());
            web.UseSetting("Artifacts:Address", Artifacts.Address);
            web.ConfigureServices(s => s.Replace(ServiceDescriptor.Singleton<TimeProvider>(Clock)));
        });
        _ = Factory.Server; // start it: migrations run, the bus connects
    }

    public async Task DisposeAsync()
    {
        await Factory.DisposeAsync();
        await Artifacts.DisposeAsync();
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
