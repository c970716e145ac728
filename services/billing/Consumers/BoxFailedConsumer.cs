using Boxes.Billing.Metering;
using Boxes.Contracts;
using MassTransit;

namespace Boxes.Billing.Consumers;

/// <summary>A box failed: it is metered up to its failure. Like every billing consumer it meters the box from its whole stream, whatever the event says.</summary>
public sealed class BoxFailedConsumer(BoxMeter meter) : IConsumer<BoxFailed>
{
    public Task Consume(ConsumeContext<BoxFailed> context) => meter.MeterAsync(context.Message.BoxId, context.CancellationToken);
}
