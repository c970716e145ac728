using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Boxes.Testing;

/// <summary>
/// Kestrel on a loopback address (127.0.0.1 unless told) and a port the system picks (unless told), without logging:
/// the skeleton of every stand-in server the tests start. <paramref name="map"/> of <see cref="StartAsync"/> adds the
/// middleware and routes; the server is listening when that returns, and stops when disposed.
/// </summary>
public sealed class LoopbackServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private LoopbackServer(WebApplication app, string address, int port)
    {
        _app = app;
        Address = address;
        Port = port;
    }

    /// <summary><c>http://{ip}:{port}</c>, without a trailing slash.</summary>
    public string Address { get; }

    public int Port { get; }

    /// <param name="map">Adds the middleware and routes, before the server starts.</param>
    /// <param name="address">The address to listen on; 127.0.0.1 when null.</param>
    /// <param name="port">The port; 0 lets the system pick one.</param>
    /// <param name="kestrel">Further Kestrel settings (limits), applied after the listen address.</param>
    public static async Task<LoopbackServer> StartAsync(Action<WebApplication> map, IPAddress? address = null, int port = 0,
        Action<KestrelServerOptions>? kestrel = null, CancellationToken cancellationToken = default)
    {
        var ip = address ?? IPAddress.Loopback;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(ip, port);
            kestrel?.Invoke(k);
        });
        var app = builder.Build();
        map(app);
        await app.StartAsync(cancellationToken);
        var bound = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
        var host = ip.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{ip}]" : ip.ToString();
        return new LoopbackServer(app, $"http://{host}:{bound.Port}", bound.Port);
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
