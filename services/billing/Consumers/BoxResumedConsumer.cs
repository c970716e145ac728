using Boxes.Billing.Metering;
using Boxes.Contracts;
using MassTransit;

namespace Boxes.Billing.Consumers;

/// <summary>A sandbox was resumed: metering starts again. Like every billing consumer it meters the box from its whole stream, whatever the event says.</summary>
public sealed class BoxResumedConsumer(BoxMeter meter) : IConsumer<BoxResumed>
{
    public Task Consume(ConsumeContext<BoxResumed> context) => meter.MeterAsync(context.Message.BoxId, context.CancellationToken);
}
