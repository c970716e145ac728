using Boxes.Clients;

namespace Boxes.Worker.Sandboxes;

public static class SandboxServiceCollectionExtensions
{
    /// <summary>
    /// Sandbox settings (section <c>Sandbox</c>), the host's capabilities, the pool of started sandboxes and
    /// the running ones; checkpoints go to the artifacts service. On shutdown running sandboxes stop first
    /// (registered later), then the pool's idle ones.
    /// </summary>
    public static IServiceCollection AddSandboxes(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<SandboxOptions>()
            .Bind(configuration.GetSection(SandboxOptions.Section))
            .Validate(o => o.PoolSize >= 0, "Sandbox:PoolSize must be 0 or more")
            .Validate(o => o.MaxSandboxes > 0, "Sandbox:MaxSandboxes must be positive")
            .Validate(o => o.UidBase >= 1000, "Sandbox:UidBase must be 1000 or more (an unprivileged uid range)")
            .ValidateOnStart();
        services.AddSingleton<SandboxHost>();
        services.AddArtifactsClient(configuration);
        services.AddSingleton<ICheckpointStore, ArtifactsCheckpointStore>();
        services.AddSingleton<SandboxPool>();
        services.AddHostedService(sp => sp.GetRequiredService<SandboxPool>());
        services.AddSingleton<SandboxSessions>();
        services.AddHostedService(sp => sp.GetRequiredService<SandboxSessions>());
        return services;
    }
}
