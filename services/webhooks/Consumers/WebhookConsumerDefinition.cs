using MassTransit;

namespace Boxes.Webhooks.Consumers;

/// <summary>
/// Every webhooks consumer shares one queue, <c>webhooks</c>, named for the service so that another service's consumer
/// of the same events (billing's, say) gets its own copy instead of competing for these. A failure to read the
/// stream or write deliveries (the database restarting) is retried here; the insert is idempotent, so retrying
/// never doubles a delivery.
/// </summary>
public sealed class WebhookConsumerDefinition<TConsumer> : ConsumerDefinition<TConsumer> where TConsumer : class, IConsumer
{
    public const string QueueName = "webhooks";

    public WebhookConsumerDefinition() => EndpointName = QueueName;

    protected override void ConfigureConsumer(IReceiveEndpointConfigurator endpointConfigurator, IConsumerConfigurator<TConsumer> consumerConfigurator,
        IRegistrationContext context)
    {
        consumerConfigurator.UseMessageRetry(r => r.Intervals(100, 500, 1000, 2000, 5000, 10000));
    }
}
