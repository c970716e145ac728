namespace Boxes.Worker.Browsers;

public static class BrowserServiceCollectionExtensions
{
    /// <summary>
    /// Chromium settings (section <c>Worker</c>), the launcher, the warm pool and the session registry.
    /// Pool and sessions are hosted services: the pool fills at start; on shutdown sessions stop first
    /// (registered later), then the pool's idle browsers.
    /// </summary>
    public static IServiceCollection AddChromiumBrowsers(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<ChromiumOptions>()
            .Bind(configuration.GetSection(ChromiumOptions.Section))
            .Validate(o => !string.IsNullOrWhiteSpace(o.ChromiumPath), "Worker:ChromiumPath is required")
            .Validate(o => !string.IsNullOrWhiteSpace(o.DataDir), "Worker:DataDir is required")
            .Validate(o => o.PoolSize >= 0, "Worker:PoolSize must be 0 or more")
            .Validate(o => o.StartTimeout > TimeSpan.Zero, "Worker:StartTimeout must be positive")
            .ValidateOnStart();
        services.AddSingleton<ChromiumLauncher>();
        services.AddSingleton<BrowserPool>();
        services.AddHostedService(sp => sp.GetRequiredService<BrowserPool>());
        services.AddSingleton<BrowserSessions>();
        services.AddHostedService(sp => sp.GetRequiredService<BrowserSessions>());
        return services;
    }
}
