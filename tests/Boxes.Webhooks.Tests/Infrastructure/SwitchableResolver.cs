using System.Collections.Concurrent;
using System.Net;
using Boxes.Webhooks.Security;

namespace Boxes.Webhooks.Tests.Infrastructure;

/// <summary>
/// Names the test decides the addresses of, and may change between two lookups (a rebinding DNS server without
/// a DNS server); every other name goes to the system resolver.
/// </summary>
public sealed class SwitchableResolver : IHostResolver
{
    private readonly ConcurrentDictionary<string, IPAddress[]> _names = new(StringComparer.OrdinalIgnoreCase);
    private readonly SystemHostResolver _system = new();

    public void Set(string name, params IPAddress[] addresses) => _names[name] = addresses;

    public Task<IPAddress[]> ResolveAsync(string host, CancellationToken ct) =>
        _names.TryGetValue(host, out var addresses) ? Task.FromResult(addresses) : _system.ResolveAsync(host, ct);
}
