using System.Collections.Concurrent;
using MassTransit;

namespace Boxes.Billing.Tests.Infrastructure;

/// <summary>Message ids the service instances have finished consuming: how a test knows an event was handled (and how often) without sleeping.</summary>
public sealed class ConsumedEvents
{
    private readonly ConcurrentDictionary<Guid, int> _counts = new();

    public void Add(Guid id) => _counts.AddOrUpdate(id, 1, (_, n) => n + 1);

    public int Count(Guid id) => _counts.TryGetValue(id, out var n) ? n : 0;

    public int Total => _counts.Values.Sum();
}

/// <summary>Registered in every service instance under test: counts each successful consume by message id, in the fixture's count and the instance's own.</summary>
public sealed class CountingConsumeObserver(IEnumerable<ConsumedEvents> counts) : IConsumeObserver
{
    public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context) where T : class
    {
        if (context.MessageId is { } id)
            foreach (var count in counts) count.Add(id);
        return Task.CompletedTask;
    }

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}
