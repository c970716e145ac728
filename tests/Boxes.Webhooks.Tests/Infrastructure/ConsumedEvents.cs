using System.Collections.Concurrent;
using MassTransit;

namespace Boxes.Webhooks.Tests.Infrastructure;

/// <summary>Message ids the service instances have finished consuming: how a test knows an event was handled (and how often) without sleeping.</summary>
public sealed class ConsumedEvents
{
    private readonly ConcurrentQueue<Guid> _ids = new();

    public void Add(Guid id) => _ids.Enqueue(id);

    public int Count(Guid id) => _ids.Count(x => x == id);
}

/// <summary>Registered in every service instance under test: counts each successful consume by message id.</summary>
public sealed class CountingConsumeObserver(ConsumedEvents consumed) : IConsumeObserver
{
    public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context) where T : class
    {
        if (context.MessageId is { } id) consumed.Add(id);
        return Task.CompletedTask;
    }

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}
