using System.Reflection;
using Boxes.Contracts;
using MassTransit;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Boxes.ServiceDefaults;

/// <summary>What every Boxes service wires the same way: logging, database, event store, bus, health.</summary>
public static class ServiceDefaultsExtensions
{
    /// <summary>Logging, the PostgreSQL data source, the event store and its migrations.</summary>
    public static IHostApplicationBuilder AddServiceDefaults(this IHostApplicationBuilder builder)
    {
        builder.AddServiceLogging();
        var connectionString = builder.Configuration.GetConnectionString("Boxes")
            ?? throw new InvalidOperationException("ConnectionStrings:Boxes (env ConnectionStrings__Boxes) is not set: the PostgreSQL connection string.");
        builder.Services.AddSingleton(_ => new NpgsqlDataSourceBuilder(connectionString).Build());
        builder.Services.AddSingleton<EventStore.EventStore>();
        builder.Services.AddMigrations("event_store", typeof(EventStore.EventStore).Assembly);
        return builder;
    }

    /// <summary>Logging only, for a service with no database of its own (the worker).</summary>
    public static IHostApplicationBuilder AddServiceLogging(this IHostApplicationBuilder builder)
    {
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
            o.UseUtcTimestamp = true;
        });
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Logging.AddFilter("MassTransit", LogLevel.Warning);
        builder.Logging.AddFilter("Quartz", LogLevel.Warning);
        return builder;
    }

    /// <summary>Runs a service's numbered SQL migrations before its other hosted services start.</summary>
    public static IServiceCollection AddMigrations(this IServiceCollection services, string scope, Assembly assembly)
    {
        services.AddSingleton<IHostedService>(sp => new MigrationRunner(sp.GetRequiredService<NpgsqlDataSource>(), scope, assembly));
        return services;
    }

    /// <summary>MassTransit on RabbitMQ, with the service's consumers and sagas registered by <paramref name="configure"/>.</summary>
    public static IHostApplicationBuilder AddBoxesBus(
        this IHostApplicationBuilder builder,
        Action<IBusRegistrationConfigurator>? configure = null,
        Action<IBusRegistrationContext, IRabbitMqBusFactoryConfigurator>? configureBus = null)
    {
        var rabbit = RabbitMqAddress.Parse(builder.Configuration.GetConnectionString("RabbitMq")
            ?? throw new InvalidOperationException("ConnectionStrings:RabbitMq (env ConnectionStrings__RabbitMq) is not set: e.g. amqp://boxes:boxes@127.0.0.1:5672/boxes."));
        builder.Services.AddSingleton(rabbit);
        // Start only once every receive endpoint has bound its queue: RabbitMQ drops what is published to an
        // exchange nobody is bound to yet, so a service must not report up (nor relay events) before that.
        // Proven by EventRelayTests (they publish the moment the host has started).
        builder.Services.Configure<MassTransitHostOptions>(o =>
        {
            o.WaitUntilStarted = true;
            o.StartTimeout = TimeSpan.FromSeconds(60);
            o.StopTimeout = TimeSpan.FromSeconds(15);
        });
        builder.Services.AddMassTransit(x =>
        {
            x.DisableUsageTelemetry();
            x.SetKebabCaseEndpointNameFormatter();
            configure?.Invoke(x);
            x.UsingRabbitMq((context, cfg) =>
            {
                cfg.Host(rabbit.Host, rabbit.Port, rabbit.VirtualHost, h =>
                {
                    h.Username(rabbit.Username);
                    h.Password(rabbit.Password);
                });
                cfg.ConfigureJsonSerializerOptions(o =>
                {
                    foreach (var c in BoxesJson.Options.Converters) o.Converters.Add(c);
                    return o;
                });
                configureBus?.Invoke(context, cfg);
                cfg.ConfigureEndpoints(context);
            });
        });
        return builder;
    }

    /// <summary>Publishes every event appended to the store onto the bus (one active relay across all replicas).</summary>
    public static IHostApplicationBuilder AddEventRelay(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<EventStore.IEventPublisher, MassTransitEventPublisher>();
        builder.Services.AddHostedService<EventStore.EventRelay>();
        return builder;
    }

    /// <summary><c>GET /healthz</c>: the process is up.</summary>
    public static IEndpointRouteBuilder MapDefaultEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => Results.Ok(new { status = "ok" }));
        return app;
    }

    private sealed class MigrationRunner(NpgsqlDataSource dataSource, string scope, Assembly assembly) : IHostedService
    {
        public Task StartAsync(CancellationToken ct) => EventStore.SqlMigrations.ApplyAsync(dataSource, scope, assembly, ct);
        public Task StopAsync(CancellationToken ct) => Task.CompletedTask;
    }
}

/// <summary>An amqp:// URL taken apart for MassTransit's host configuration.</summary>
public sealed record RabbitMqAddress(string Host, ushort Port, string VirtualHost, string Username, string Password)
{
    public static RabbitMqAddress Parse(string url)
    {
        var uri = new Uri(url);
        var user = uri.UserInfo.Split(':', 2);
        var vhost = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/'));
        return new RabbitMqAddress(
            uri.Host, (ushort)(uri.Port > 0 ? uri.Port : 5672), vhost.Length == 0 ? "/" : vhost,
            user.Length > 0 && user[0].Length > 0 ? Uri.UnescapeDataString(user[0]) : "guest",
            user.Length > 1 ? Uri.UnescapeDataString(user[1]) : "guest");
    }
}
