using Boxes.Billing.Metering;
using Boxes.Contracts;
using MassTransit;

namespace Boxes.Billing.Consumers;

/// <summary>A sandbox was paused: its running interval is closed and written. Like every billing consumer it meters the box from its whole stream, whatever the event says.</summary>
public sealed class BoxPausedConsumer(BoxMeter meter) : IConsumer<BoxPaused>
{
    public Task Consume(ConsumeContext<BoxPaused> context) => meter.MeterAsync(context.Message.BoxId, context.CancellationToken);
}
