using Boxes.Billing.Metering;
using Boxes.Contracts;
using MassTransit;

namespace Boxes.Billing.Consumers;

/// <summary>A box was requested (its row is made, with the rate it is metered at). Like every billing consumer it meters the box from its whole stream, whatever the event says.</summary>
public sealed class BoxRequestedConsumer(BoxMeter meter) : IConsumer<BoxRequested>
{
    public Task Consume(ConsumeContext<BoxRequested> context) => meter.MeterAsync(context.Message.BoxId, context.CancellationToken);
}
