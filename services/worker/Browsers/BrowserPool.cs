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
                if (!browser.HasExited)
                {
                    Signals.SetGroupPriority(browser.Pid, 0); // a live session's browser competes at normal priority
                    return browser;
                }
                await browser.StopAsync(); // died while idle: clean it up and try the next
            }
            var fresh = await launcher.LaunchAsync(ct);
            Signals.SetGroupPriority(fresh.Pid, 0);
            return fresh;
        }
        finally
        {
            _ = RefillAsync();
        }
    }

    /// <summary>Tops the pool up to PoolSize, launching up to RefillParallelism at once; one refill loop at a time.</summary>
    public async Task RefillAsync()
    {
        if (!await _refilling.WaitAsync(0)) return;
        try
        {
            while (!_stopping.IsCancellationRequested)
            {
                var missing = options.Value.PoolSize - _idle.Count;
                if (missing <= 0) return;
                var launches = Enumerable.Range(0, Math.Min(missing, Math.Max(1, options.Value.RefillParallelism)))
                    .Select(_ => launcher.LaunchAsync(_stopping.Token)).ToArray();
                try
                {
                    await Task.WhenAll(launches);
                }
                catch (Exception ex) when (!_stopping.IsCancellationRequested)
                {
                    logger.LogError(ex, "Could not pre-launch a browser; the pool stays at {Idle}", _idle.Count);
                    foreach (var ok in launches.Where(l => l.IsCompletedSuccessfully)) _idle.Enqueue(ok.Result);
                    return;
                }
                catch (Exception)
                {
                    foreach (var ok in launches.Where(l => l.IsCompletedSuccessfully)) await ok.Result.StopAsync();
                    return;
                }
                foreach (var launched in launches) _idle.Enqueue(launched.Result);
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
