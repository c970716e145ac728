namespace Boxes.Webhooks.Tests.Infrastructure;

/// <summary>Real time plus an offset the tests move forward: the service's retries keep running on their own, and a test can jump days ahead.</summary>
public sealed class OffsetClock : TimeProvider
{
    private long _offsetTicks;

    public TimeSpan Offset => TimeSpan.FromTicks(Interlocked.Read(ref _offsetTicks));

    public override DateTimeOffset GetUtcNow() => DateTimeOffset.UtcNow + Offset;

    public void Advance(TimeSpan by) => Interlocked.Add(ref _offsetTicks, by.Ticks);
}
