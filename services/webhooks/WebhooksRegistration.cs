using Boxes.Contracts;
using Boxes.ServiceDefaults;
using Boxes.Webhooks.Consumers;
using Boxes.Webhooks.Delivery;
using Boxes.Webhooks.Events;
using Boxes.Webhooks.Security;
using Boxes.Webhooks.Subscriptions;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Boxes.Webhooks;

public static class WebhooksRegistration
{
    /// <summary>Endpoints and deliveries in the <c>webhooks</c> schema, the consumers of box events, the delivery loop and its guarded HTTP client.</summary>
    public static IHostApplicationBuilder AddWebhooks(this IHostApplicationBuilder builder)
    {
        // Every route is internal: refuse to start without the shared key rather than answer 401 to everyone.
        InternalApi.Key(builder.Configuration);
        var section = builder.Configuration.GetSection(WebhooksOptions.Section);
        builder.Services.AddOptions<WebhooksOptions>()
            .Bind(section)
            .PostConfigure(o => o.ReadLists(section))
            .Validate(o => o.RetryDelays.Count > 0, "Webhooks:RetrySchedule must name at least one wait (the first is before attempt 1).")
            .Validate(o => o.Jitter is >= 0 and < 1, "Webhooks:Jitter must be a fraction from 0 to below 1.")
            .Validate(o => o.DeliveryTimeout > TimeSpan.Zero, "Webhooks:DeliveryTimeout must be positive.")
            .Validate(o => o.DisableAfter > TimeSpan.Zero, "Webhooks:DisableAfter must be positive.")
            .Validate(o => o.MaxInFlightPerEndpoint > 0, "Webhooks:MaxInFlightPerEndpoint must be at least 1.")
            .Validate(o => o.MaxConcurrentDeliveries > 0, "Webhooks:MaxConcurrentDeliveries must be at least 1.")
            .Validate(o => o.PollInterval > TimeSpan.Zero, "Webhooks:PollInterval must be positive.")
            .ValidateOnStart();
        builder.Services.AddMigrations("webhooks", typeof(WebhooksRegistration).Assembly);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton(builder.Configuration.GetSection("Metering").Get<VcpuRates>() ?? new VcpuRates());

        builder.Services.AddSingleton(sp => new AllowList(sp.GetRequiredService<IOptions<WebhooksOptions>>().Value.AllowedHostEntries));
        builder.Services.TryAddSingleton<IHostResolver, SystemHostResolver>();
        builder.Services.AddSingleton<SsrfGuard>();
        builder.Services.AddSingleton<GuardedConnector>();

        builder.Services.AddSingleton<EndpointStore>();
        builder.Services.AddSingleton<DeliveryStore>();
        builder.Services.AddSingleton<DeliveryLog>();
        builder.Services.AddSingleton<LifecycleFanOut>();
        builder.Services.AddSingleton<DeliverySignal>();
        // HttpClient's own request logs would log every delivery twice at Information; the loop logs each attempt itself.
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        builder.Services.AddHttpClient<WebhookSender>(WebhookSender.ClientName, http => http.Timeout = Timeout.InfiniteTimeSpan)
            .ConfigurePrimaryHttpMessageHandler(sp => WebhookSender.CreateHandler(sp.GetRequiredService<GuardedConnector>()))
            // The handler's pooled connections are recycled by the handler itself (PooledConnectionLifetime).
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);
        builder.Services.AddHostedService<DeliveryNotifications>();
        builder.Services.AddHostedService<DeliveryEngine>();

        builder.AddBoxesBus(x =>
        {
            x.AddConsumer<BoxRequestedConsumer>(typeof(WebhookConsumerDefinition<BoxRequestedConsumer>));
            x.AddConsumer<BoxReadyConsumer>(typeof(WebhookConsumerDefinition<BoxReadyConsumer>));
            x.AddConsumer<BoxEndedConsumer>(typeof(WebhookConsumerDefinition<BoxEndedConsumer>));
            x.AddConsumer<BoxFailedConsumer>(typeof(WebhookConsumerDefinition<BoxFailedConsumer>));
            x.AddConsumer<BoxPausedConsumer>(typeof(WebhookConsumerDefinition<BoxPausedConsumer>));
            x.AddConsumer<BoxResumedConsumer>(typeof(WebhookConsumerDefinition<BoxResumedConsumer>));
            x.AddConsumer<ArtifactCreatedConsumer>(typeof(WebhookConsumerDefinition<ArtifactCreatedConsumer>));
        });
        return builder;
    }
}
