using Boxes.Billing.Metering;
using Boxes.Contracts;
using MassTransit;

namespace Boxes.Billing.Consumers;

/// <summary>A box ended: its last interval is closed and written. Like every billing consumer it meters the box from its whole stream, whatever the event says.</summary>
public sealed class BoxEndedConsumer(BoxMeter meter) : IConsumer<BoxEnded>
{
    public Task Consume(ConsumeContext<BoxEnded> context) => meter.MeterAsync(context.Message.BoxId, context.CancellationToken);
}
