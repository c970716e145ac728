using Boxes.Scheduler.StateMachines;
using MassTransit;
using MassTransit.Context;
using MassTransit.Saga;

namespace Boxes.Scheduler.Persistence;

/// <summary>MassTransit's view of one message's unit of work: load, add and save box sagas in it.</summary>
public sealed class BoxSagaRepositoryContext<TMessage>(
    SchedulerUnitOfWork unit,
    ConsumeContext<TMessage> context,
    ISagaConsumeContextFactory<SchedulerUnitOfWork, BoxState> factory)
    : ConsumeContextScope<TMessage>(context, unit), SagaRepositoryContext<BoxState, TMessage>
    where TMessage : class
{
    private readonly ConsumeContext<TMessage> _context = context;

    /// <summary>Sagas touched by this message, whose commands go out once the transaction has committed.</summary>
    public List<BoxState> Touched { get; } = [];

    private Guid Causation => _context.MessageId ?? NewId.NextGuid();

    public Task<SagaConsumeContext<BoxState, TMessage>> Add(BoxState instance)
    {
        instance.CausationId = Causation;
        Touched.Add(instance);
        return factory.CreateSagaConsumeContext(unit, this, instance, SagaConsumeContextMode.Add);
    }

    public Task<SagaConsumeContext<BoxState, TMessage>> Insert(BoxState instance) =>
        throw new NotSupportedException("Box sagas are created by their BoxRequested event, never pre-inserted.");

    public async Task<SagaConsumeContext<BoxState, TMessage>?> Load(Guid correlationId)
    {
        var instance = await unit.LoadForUpdateAsync(correlationId, CancellationToken);
        if (instance is null) return null;
        instance.CausationId = Causation;
        Touched.Add(instance);
        // Built on this scope, not the raw message context, so activities find the unit of work as a payload.
        return await factory.CreateSagaConsumeContext(unit, this, instance, SagaConsumeContextMode.Load);
    }

    public Task Save(SagaConsumeContext<BoxState> context) => unit.SaveAsync(context.Saga, isNew: true, CancellationToken);

    public Task Update(SagaConsumeContext<BoxState> context) => unit.SaveAsync(context.Saga, isNew: false, CancellationToken);

    // Finalized box sagas are kept (never SetCompleted), so a late duplicate finds the finished box and does nothing.
    public Task Delete(SagaConsumeContext<BoxState> context) => unit.SaveAsync(context.Saga, isNew: false, CancellationToken);

    public Task Discard(SagaConsumeContext<BoxState> context)
    {
        context.Saga.ClearEffects();
        return Task.CompletedTask;
    }

    public Task Undo(SagaConsumeContext<BoxState> context)
    {
        context.Saga.ClearEffects();
        return Task.CompletedTask;
    }

    public Task<SagaConsumeContext<BoxState, T>> CreateSagaConsumeContext<T>(ConsumeContext<T> consumeContext, BoxState instance, SagaConsumeContextMode mode)
        where T : class =>
        factory.CreateSagaConsumeContext(unit, consumeContext, instance, mode);
}
