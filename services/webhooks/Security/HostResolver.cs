using System.Net;

namespace Boxes.Webhooks.Security;

/// <summary>Looks a host name up. The guard resolves names itself, so that it can check the very addresses it then connects to.</summary>
public interface IHostResolver
{
    Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct);
}

/// <summary>The system resolver (getaddrinfo): DNS, /etc/hosts, and whatever the machine is set up with.</summary>
public sealed class SystemHostResolver : IHostResolver
{
    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) => Dns.GetHostAddressesAsync(host, ct);
}
