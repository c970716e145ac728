using Boxes.Contracts;
using Boxes.ServiceDefaults;
using Boxes.Worker.Browsers;
using Boxes.Worker.Consumers;
using Boxes.Worker.Sandboxes;
using MassTransit;

namespace Boxes.Worker;

public static class WorkerRegistration
{
    /// <summary>Chromium pool and sessions, sandbox pool and sessions, the worker's command queue, and heartbeats.</summary>
    public static IHostApplicationBuilder AddWorker(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<WorkerOptions>(builder.Configuration.GetSection("Worker"));
        var workerId = builder.Configuration.GetSection("Worker").Get<WorkerOptions>()?.Id ?? new WorkerOptions().Id;
        builder.Services.AddChromiumBrowsers(builder.Configuration);
        builder.Services.AddSandboxes(builder.Configuration);
        builder.AddBoxesBus(
            x =>
            {
                x.AddConsumer<StartBoxConsumer>().ExcludeFromConfigureEndpoints();
                x.AddConsumer<StopBoxConsumer>().ExcludeFromConfigureEndpoints();
            },
            (context, cfg) => cfg.ReceiveEndpoint(WorkerQueues.For(workerId), e =>
            {
                // Starting takes a browser or a sandbox from its warm pool; several may start at once.
                e.PrefetchCount = 16;
                e.ConfigureConsumer<StartBoxConsumer>(context);
                e.ConfigureConsumer<StopBoxConsumer>(context);
            }));
        builder.Services.AddHostedService<HeartbeatService>();
        return builder;
    }
}
