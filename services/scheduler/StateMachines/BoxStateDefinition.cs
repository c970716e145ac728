using MassTransit;

namespace Boxes.Scheduler.StateMachines;

/// <summary>Endpoint settings for the box saga: retries for optimistic-concurrency conflicts and for a stop that overtook its request.</summary>
public sealed class BoxStateDefinition : SagaDefinition<BoxState>
{
    public BoxStateDefinition()
    {
        Endpoint(e => e.Name = "box-state");
    }

    protected override void ConfigureSaga(IReceiveEndpointConfigurator endpointConfigurator, ISagaConfigurator<BoxState> sagaConfigurator,
        IRegistrationContext context)
    {
        endpointConfigurator.UseMessageRetry(r => r.Intervals(10, 25, 50, 100, 250, 500, 1000, 2000, 4000));
    }
}
