using System.Collections.Concurrent;
using MassTransit;

namespace Boxes.Scheduler.Tests.Infrastructure;

/// <summary>
/// Records messages a bus finished consuming, so a test can wait until a duplicate has actually been
/// handled (and ignored) instead of sleeping and hoping.
/// </summary>
public sealed class ConsumedMessages : IConsumeObserver
{
    private readonly ConcurrentQueue<object> _messages = new();

    public int Count<T>(Func<T, bool> match) where T : class => _messages.OfType<T>().Count(match);

    public Task PreConsume<T>(ConsumeContext<T> context) where T : class => Task.CompletedTask;

    public Task PostConsume<T>(ConsumeContext<T> context) where T : class
    {
        _messages.Enqueue(context.Message);
        return Task.CompletedTask;
    }

    public Task ConsumeFault<T>(ConsumeContext<T> context, Exception exception) where T : class => Task.CompletedTask;
}
