using System.Collections.Concurrent;

namespace Boxes.Api.Proxy;

/// <summary>Open proxied WebSocket connections (CDP, terminal) by box, so that a box's end closes them at once.</summary>
public sealed class ProxyRegistry
{
    private readonly ConcurrentDictionary<Guid, ConcurrentDictionary<CancellationTokenSource, byte>> _open = new();

    public IDisposable Register(Guid boxId, CancellationTokenSource connection)
    {
        _open.GetOrAdd(boxId, _ => new()).TryAdd(connection, 0);
        return new Registration(this, boxId, connection);
    }

    /// <summary>Ends every proxied connection of the box.</summary>
    public int CloseAll(Guid boxId)
    {
        if (!_open.TryRemove(boxId, out var connections)) return 0;
        foreach (var c in connections.Keys)
        {
            try { c.Cancel(); } catch (ObjectDisposedException) { }
        }
        return connections.Count;
    }

    public int Count(Guid boxId) => _open.TryGetValue(boxId, out var c) ? c.Count : 0;

    private sealed class Registration(ProxyRegistry registry, Guid boxId, CancellationTokenSource connection) : IDisposable
    {
        public void Dispose()
        {
            if (registry._open.TryGetValue(boxId, out var set)) set.TryRemove(connection, out _);
        }
    }
}
