using MassTransit;

namespace Boxes.Billing.Consumers;

/// <summary>
/// Every billing consumer shares one durable queue, <c>billing</c>, named for the service so that it gets its own copy
/// of the box events beside the webhooks service's. A failure to read the stream or write records (the database
/// restarting) is retried here; metering is idempotent, so a retry never counts twice.
/// </summary>
public sealed class BillingConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer> where TConsumer : class, IConsumer
{
    public const string QueueName = "billing";

    public BillingConsumerDefinition() => EndpointName = QueueName;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        consumerConfigurator.UseMessageRetry(r => r.Intervals(100, 500, 1000, 2000, 5000, 10000));
    }
}
