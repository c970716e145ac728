using System.Collections.Concurrent;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Browsers;

/// <summary>
/// Pre-launched, idle Chromium processes. Taking one costs nothing; every take starts a refill in the
/// background, so a session's create→ready does not pay Chromium's cold start.
/// </summary>
public sealed class BrowserPool(ChromiumLauncher launcher, IOptions<ChromiumOptions> options, ILogger<BrowserPool> logger)
    : IHostedService, IAsyncDisposable
{
    private readonly ConcurrentQueue<ChromiumProcess> _idle = new();
    private readonly SemaphoreSlim _refilling = new(1, 1);
    private readonly CancellationTokenSource _stopping = new();

    public int IdleCount => _idle.Count;

    public Task StartAsync(CancellationToken ct)
    {
        _ = RefillAsync();
        return Task.CompletedTask;
    }

    /// <summary>An idle browser if one is warm, else a fresh launch.</summary>
    public async Task<ChromiumProcess> TakeAsync(CancellationToken ct)
    {
        try
        {
            while (_idle.TryDequeue(out var browser))
            {
                if (!browser.HasExited) return browser;
                await browser.StopAsync(); // died while idle: clean it up and try the next
            }
            return await launcher.LaunchAsync(ct);
        }
        finally
        {
            _ = RefillAsync();
        }
    }

    /// <summary>Tops the pool up to PoolSize; one refill loop at a time.</summary>
    public async Task RefillAsync()
    {
        if (!await _refilling.WaitAsync(0)) return;
        try
        {
            while (!_stopping.IsCancellationRequested && _idle.Count < options.Value.PoolSize)
            {
                try
                {
                    _idle.Enqueue(await launcher.LaunchAsync(_stopping.Token));
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex)
                {
                    logger.LogError(ex, "Could not pre-launch a browser; the pool stays at {Idle}", _idle.Count);
                    return;
                }
            }
        }
        finally
        {
            _refilling.Release();
        }
    }

    public async Task StopAsync(CancellationToken ct)
    {
        await _stopping.CancelAsync();
        await _refilling.WaitAsync(ct); // let an in-flight launch land so it is stopped too
        try
        {
            while (_idle.TryDequeue(out var browser)) await browser.StopAsync();
        }
        finally
        {
            _refilling.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stopping.IsCancellationRequested) await StopAsync(CancellationToken.None);
        _stopping.Dispose();
    }
}
