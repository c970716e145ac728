using Boxes.Api.Artifacts;
using Boxes.Api.Auth;
using Boxes.Api.Billing;
using Boxes.Api.Browsers;
using Boxes.Api.Health;
using Boxes.Api.Idempotency;
using Boxes.Api.Lifecycle;
using Boxes.Api.Projections;
using Boxes.Api.Proxy;
using Boxes.Api.Sandboxes;
using Boxes.Api.Webhooks;
using Boxes.Clients;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using MassTransit;
using Npgsql;

namespace Boxes.Api;

public static class ApiRegistration
{
    /// <summary>Keys, boxes, the proxies (CDP, terminal), the sandbox data plane, the webhooks service's client, the list projection, readiness, and the event relay.</summary>
    public static IHostApplicationBuilder AddApi(this IHostApplicationBuilder builder)
    {
        // The API calls the workers' data plane, the artifacts store and the webhooks service: without the shared key it could call none,
        // so it refuses to start rather than fail on the first exec.
        InternalApi.Key(builder.Configuration);
        builder.Services.Configure<ApiOptions>(builder.Configuration.GetSection("Boxes"));
        builder.Services.Configure<PlanCatalog>(builder.Configuration.GetSection("Plans"));
        builder.Services.AddMigrations("api", typeof(ApiRegistration).Assembly);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ApiKeys>();
        builder.AddKeyRateLimits(); // RateLimits: a token bucket per API key, applied by UseApiAuthentication
        builder.Services.AddSingleton<BoxCatalog>();
        builder.Services.AddSingleton<SessionTokens>();
        builder.Services.AddSingleton<SessionView>();
        builder.Services.AddSingleton<ProxyRegistry>();
        builder.Services.AddSingleton<WebSocketRelay>();
        builder.Services.AddSingleton<WorkerHeartbeats>();
        builder.Services.AddSingleton<SandboxView>();
        builder.Services.AddSingleton<ArtifactLinks>();
        builder.Services.AddSingleton<BoxChangeNotifier>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<BoxChangeNotifier>());
        // HttpClient's own request logs would log every exec and file read twice at Information; failures are logged by us.
        builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Warning);
        builder.Services.AddHttpClient<WorkerDataPlane>((sp, http) => WorkerDataPlane.Configure(http, sp.GetRequiredService<IConfiguration>()))
            .ConfigurePrimaryHttpMessageHandler(WorkerDataPlane.CreateHandler);
        builder.Services.AddArtifactsClient(builder.Configuration);
        builder.Services.AddWebhooksClient(builder.Configuration);
        builder.Services.AddIdempotency(); // Idempotency-Key on the creates
        builder.AddBilling(); // Billing: the billing service's client, the monthly allowance check, Stripe checkout
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(o => o.Limits.MaxRequestBodySize = 8 * 1024 * 1024);

        builder.AddBoxesBus(x =>
        {
            // Every API replica must hear these itself: it holds its own proxied sockets and its own view of the workers.
            var instance = $"api-{Guid.NewGuid():N}";
            x.AddConsumer<SessionEndedConsumer>().Endpoint(e => { e.Name = $"{instance}-session-ended"; e.Temporary = true; });
            x.AddConsumer<WorkerHeartbeatTracker>().Endpoint(e => { e.Name = $"{instance}-heartbeats"; e.Temporary = true; });
        });
        builder.AddEventRelay();
        builder.Services.AddHostedService(sp => new LogSubscription(
            BoxListProjection.Name, sp.GetRequiredService<NpgsqlDataSource>(), new BoxListProjection(),
            sp.GetRequiredService<ILogger<BoxListProjection>>()));
        return builder;
    }
}
