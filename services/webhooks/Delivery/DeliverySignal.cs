namespace Boxes.Webhooks.Delivery;

/// <summary>Wakes the delivery loop: a delivery was inserted (the database notified us) or one of ours finished.</summary>
public sealed class DeliverySignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Set()
    {
        // At most one pending wake-up: several signals before the loop looks are one reason to look again.
        try { _signal.Release(); }
        catch (SemaphoreFullException) { }
    }

    /// <summary>Waits until signalled or <paramref name="timeout"/> passes.</summary>
    public Task WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);
}
