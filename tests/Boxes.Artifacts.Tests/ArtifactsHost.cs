using Boxes.Clients;
using Boxes.Contracts;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Boxes.Artifacts.Tests;

/// <summary>
/// The real artifacts service in-process on Kestrel (a real socket, so uploads stream as they do in production),
/// on its own database, RabbitMQ vhost and data folder, reached through <see cref="ArtifactsClient"/> as
/// registered by <see cref="ArtifactsClientRegistration.AddArtifactsClient"/>.
/// </summary>
public class ArtifactsHost : IAsyncLifetime
{
    public const string InternalKey = "internal-key-for-tests-0123456789";

    public PostgresDatabase Database { get; private set; } = null!;
    public RabbitMqVirtualHost Broker { get; private set; } = null!;
    public WebApplicationFactory<Program> Factory { get; private set; } = null!;
    public string DataDir { get; } = Path.Combine(Path.GetTempPath(), $"boxes-artifacts-test-{Guid.NewGuid():N}");
    public Uri Address { get; private set; } = null!;

    /// <summary>The client as the API and the worker get it: from the service collection.</summary>
    public ArtifactsClient Client { get; private set; } = null!;

    private ServiceProvider _clientServices = null!;

    /// <summary>Artifacts:MaxBytes for this host; null keeps the service's default (2 GiB).</summary>
    protected virtual long? MaxBytes => null;

    public async Task InitializeAsync()
    {
        Database = await PostgresDatabase.CreateAsync("artifacts_test");
        Broker = await RabbitMqVirtualHost.CreateAsync();
        var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:Boxes", Database.ConnectionString);
            web.UseSetting("ConnectionStrings:RabbitMq", Broker.Url);
            web.UseSetting(InternalApi.ConfigKey, InternalKey);
            web.UseSetting("Artifacts:DataDir", DataDir);
            if (MaxBytes is { } max) web.UseSetting("Artifacts:MaxBytes", max.ToString(System.Globalization.CultureInfo.InvariantCulture));
        });
        // Loopback, a free port: test hosts run side by side.
        factory.UseKestrel(o => o.Listen(System.Net.IPAddress.Loopback, 0));
        factory.StartServer(); // migrations run, the blob folders are made, the bus connects
        Factory = factory;
        var addresses = Factory.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses;
        Address = new Uri(addresses.First());

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [ArtifactsClientRegistration.AddressKey] = Address.ToString(),
            [InternalApi.ConfigKey] = InternalKey,
        }).Build();
        _clientServices = new ServiceCollection().AddArtifactsClient(configuration).BuildServiceProvider();
        Client = _clientServices.GetRequiredService<ArtifactsClient>();
    }

    public async Task DisposeAsync()
    {
        await _clientServices.DisposeAsync();
        await Factory.DisposeAsync();
        await Broker.DisposeAsync();
        await Database.DisposeAsync();
        try { Directory.Delete(DataDir, recursive: true); }
        catch (DirectoryNotFoundException) { }
    }

    /// <summary>A client that sends <paramref name="key"/> (or no key at all) instead of the right one.</summary>
    public ArtifactsClient ClientWithKey(string? key)
    {
        var http = new HttpClient { BaseAddress = Address };
        if (key is not null) http.DefaultRequestHeaders.Add(InternalApi.HeaderName, key);
        return new ArtifactsClient(http);
    }

    /// <summary>A plain client with the right key, for requests ArtifactsClient cannot make (ids that are not GUIDs).</summary>
    public HttpClient RawClient()
    {
        var http = new HttpClient { BaseAddress = Address };
        http.DefaultRequestHeaders.Add(InternalApi.HeaderName, InternalKey);
        return http;
    }

    public async Task<long> CountRecords()
    {
        await using var cmd = Database.DataSource.CreateCommand("SELECT count(*) FROM artifacts.artifacts");
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    public async Task<long> CountEvents()
    {
        await using var cmd = Database.DataSource.CreateCommand("SELECT count(*) FROM event_store.events");
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>The ArtifactCreated events in the box's stream, in order.</summary>
    public async Task<IReadOnlyList<ArtifactCreated>> ArtifactEvents(Guid boxId)
    {
        var store = Factory.Services.GetRequiredService<EventStore.EventStore>();
        var events = await store.ReadStreamAsync(Streams.ForBox(boxId));
        return events.Select(StoredEvents.Deserialize).OfType<ArtifactCreated>().ToList();
    }

    public IReadOnlyList<string> TempFiles() => Files("tmp");
    public IReadOnlyList<string> BlobFiles() => Files("blobs");

    private IReadOnlyList<string> Files(string folder)
    {
        var path = Path.Combine(DataDir, folder);
        return Directory.Exists(path) ? Directory.GetFiles(path, "*", SearchOption.AllDirectories) : [];
    }
}

/// <summary>The service with a 1 MiB limit, for the size checks.</summary>
public sealed class SmallLimitArtifactsHost : ArtifactsHost
{
    public const long Limit = 1024 * 1024;
    protected override long? MaxBytes => Limit;
}
