using Boxes.Billing.Consumers;
using Boxes.Billing.Metering;
using Boxes.Billing.Usage;
using Boxes.Contracts;
using Boxes.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Boxes.Billing;

public static class BillingRegistration
{
    /// <summary>Usage records in the <c>billing</c> schema, the consumers of box events that write them, the closer that writes them as boxes run, and the usage queries.</summary>
    public static IHostApplicationBuilder AddBilling(this IHostApplicationBuilder builder)
    {
        // Every route is internal: refuse to start without the shared key rather than answer 401 to everyone.
        InternalApi.Key(builder.Configuration);
        builder.Services.AddOptions<BillingOptions>()
            .Bind(builder.Configuration.GetSection(BillingOptions.Section))
            .Validate(o => o.IntervalLength >= TimeSpan.FromMilliseconds(1) && o.IntervalLength.Ticks % TimeSpan.TicksPerMillisecond == 0,
                "Billing:IntervalLength must be a positive whole number of milliseconds.")
            .Validate(o => o.Grace >= TimeSpan.Zero, "Billing:Grace must not be negative.")
            .Validate(o => o.CloseEvery > TimeSpan.Zero, "Billing:CloseEvery must be positive.")
            .ValidateOnStart();
        var rates = builder.Configuration.GetSection("Metering").Get<VcpuRates>() ?? new VcpuRates();
        if (rates.Browser.Values.Concat(rates.Sandbox.Values).Any(v => !(v > 0) || v > 10_000))
            throw new InvalidOperationException("Metering:Browser:<weight> and Metering:Sandbox:<size> must be positive numbers of vCPUs.");
        builder.Services.AddSingleton(rates);
        builder.Services.AddMigrations("billing", typeof(BillingRegistration).Assembly);
        builder.Services.TryAddSingleton(TimeProvider.System);

        builder.Services.AddSingleton<BoxMeter>();
        builder.Services.AddSingleton<UsageFeed>();
        builder.Services.AddSingleton<UsageTotals>();
        builder.Services.AddHostedService<IntervalCloser>();

        builder.AddBoxesBus(x =>
        {
            x.AddConsumer<BoxRequestedConsumer>(typeof(BillingConsumerDefinition<BoxRequestedConsumer>));
            x.AddConsumer<BoxReadyConsumer>(typeof(BillingConsumerDefinition<BoxReadyConsumer>));
            x.AddConsumer<BoxPausedConsumer>(typeof(BillingConsumerDefinition<BoxPausedConsumer>));
            x.AddConsumer<BoxResumedConsumer>(typeof(BillingConsumerDefinition<BoxResumedConsumer>));
            x.AddConsumer<BoxEndedConsumer>(typeof(BillingConsumerDefinition<BoxEndedConsumer>));
            x.AddConsumer<BoxFailedConsumer>(typeof(BillingConsumerDefinition<BoxFailedConsumer>));
        });
        return builder;
    }
}
