using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;

namespace Boxes.Worker.Browsers;

/// <summary>The browser sessions this worker runs, by box id.</summary>
public sealed class BrowserSessions(BrowserPool pool, ILogger<BrowserSessions> logger) : IHostedService
{
    private readonly ConcurrentDictionary<Guid, Lazy<Task<ChromiumProcess>>> _sessions = new();

    /// <summary>Called with (box id, reason) when a session's Chromium exits without being asked to.</summary>
    public Func<Guid, string, Task>? OnCrashed { get; set; }

    public IReadOnlyCollection<Guid> Running => _sessions.Keys.ToArray();
    public int Count => _sessions.Count;

    /// <summary>Starts the box's browser, or returns the one already running for it (a start command may be redelivered).</summary>
    public async Task<ChromiumProcess> StartAsync(Guid boxId, CancellationToken ct)
    {
        var entry = _sessions.GetOrAdd(boxId, id => new Lazy<Task<ChromiumProcess>>(() => StartNew(id)));
        try
        {
            return await entry.Value.WaitAsync(ct);
        }
        catch when (entry.Value.IsFaulted)
        {
            _sessions.TryRemove(new(boxId, entry));
            throw;
        }
    }

    private async Task<ChromiumProcess> StartNew(Guid boxId)
    {
        var browser = await pool.TakeAsync(CancellationToken.None);
        _ = WatchAsync(boxId, browser);
        return browser;
    }

    private async Task WatchAsync(Guid boxId, ChromiumProcess browser)
    {
        await browser.Exited;
        if (browser.StopRequested) return;
        var reason = $"chromium (pid {browser.Pid}) exited unexpectedly with code {browser.ExitCode?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "unknown"}";
        logger.LogWarning("Box {BoxId}: {Reason}", boxId, reason);
        if (_sessions.TryRemove(boxId, out _)) await browser.StopAsync(); // free the profile and any orphaned children
        if (OnCrashed is { } report)
        {
            try { await report(boxId, reason); }
            catch (Exception ex) { logger.LogError(ex, "Could not report the crash of box {BoxId}", boxId); }
        }
    }

    public bool TryGet(Guid boxId, [NotNullWhen(true)] out ChromiumProcess? browser)
    {
        browser = _sessions.TryGetValue(boxId, out var entry) && entry.IsValueCreated && entry.Value.IsCompletedSuccessfully
            ? entry.Value.Result
            : null;
        return browser is not null;
    }

    /// <summary>Stops the box's browser and frees everything it held. False when it was not running here.</summary>
    public async Task<bool> StopAsync(Guid boxId)
    {
        if (!_sessions.TryRemove(boxId, out var entry)) return false;
        try
        {
            var browser = await entry.Value;
            await browser.StopAsync();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogWarning(ex, "Box {BoxId} had failed to start; nothing to stop", boxId);
        }
        return true;
    }

    public Task StartAsync(CancellationToken ct) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken ct)
    {
        await Task.WhenAll(_sessions.Keys.Select(StopAsync));
    }
}

public static class BrowserServiceCollectionExtensions
{
    public static IServiceCollection AddChromiumBrowsers(this IServiceCollection services, IConfiguration configuration)
    {
        services.Configure<ChromiumOptions>(configuration.GetSection("Worker"));
        services.AddSingleton<ChromiumLauncher>();
        services.AddSingleton<BrowserPool>();
        services.AddHostedService(sp => sp.GetRequiredService<BrowserPool>());
        services.AddSingleton<BrowserSessions>();
        services.AddHostedService(sp => sp.GetRequiredService<BrowserSessions>());
        return services;
    }
}
