using Boxes.Billing.Metering;
using Boxes.Contracts;
using MassTransit;

namespace Boxes.Billing.Consumers;

/// <summary>A box became ready: metering starts. Like every billing consumer it meters the box from its whole stream, whatever the event says.</summary>
public sealed class BoxReadyConsumer(BoxMeter meter) : IConsumer<BoxReady>
{
    public Task Consume(ConsumeContext<BoxReady> context) => meter.MeterAsync(context.Message.BoxId, context.CancellationToken);
}
