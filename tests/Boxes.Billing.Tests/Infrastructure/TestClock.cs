namespace Boxes.Billing.Tests.Infrastructure;

/// <summary>
/// The service's "now": real time until a test freezes it at a moment of its choosing, then moved only by the test.
/// The closer keeps running on real time; only what it takes as "now" comes from here.
/// </summary>
public sealed class TestClock : TimeProvider
{
    private readonly Lock _gate = new();
    private DateTimeOffset? _frozen;

    public override DateTimeOffset GetUtcNow()
    {
        lock (_gate) return _frozen ?? DateTimeOffset.UtcNow;
    }

    public void Freeze(DateTimeOffset at)
    {
        lock (_gate) _frozen = at;
    }

    public void Advance(TimeSpan by)
    {
        lock (_gate) _frozen = (_frozen ?? throw new InvalidOperationException("Freeze the clock before moving it.")) + by;
    }

    public void Thaw()
    {
        lock (_gate) _frozen = null;
    }
}
