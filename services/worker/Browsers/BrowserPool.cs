using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Browsers;

/// <summary>
/// Pre-launched, idle Chromium processes. Taking one costs nothing; every take starts a refill in the
/// background, so a session's create→ready does not pay Chromium's cold start.
/// </summary>
public sealed class BrowserPool(ChromiumLauncher launcher, IOptions<ChromiumOptions> options, ILogger<BrowserPool> logger)
    : IHostedService, IAsyncDisposable, IDisposable
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly Lock _gate = new();
    private readonly List<ChromiumProcess> _idle = []; // oldest first; guarded by _gate
    private bool _refilling;                            // guarded by _gate: at most one refill loop
    private Task _refill = Task.CompletedTask;          // guarded by _gate
    private CancellationTokenSource? _cutDelay;         // guarded by _gate: ends a refill's RefillDelay early
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Idle browsers that are still alive.</summary>
    public int IdleCount
    {
        get { lock (_gate) return _idle.Count(b => !b.HasExited); }
    }

    public Task StartAsync(CancellationToken ct)
    {
        TriggerRefill();
        return Task.CompletedTask;
    }

    /// <summary>An idle browser if one is warm, else a fresh launch. The caller owns it (and must stop it).</summary>
    public async Task<ChromiumProcess> TakeAsync(CancellationToken ct)
    {
        ChromiumProcess? warm = null;
        var dead = new List<ChromiumProcess>();
        lock (_gate)
        {
            while (_idle.Count > 0 && warm is null)
            {
                var next = _idle[0];
                _idle.RemoveAt(0);
                if (next.HasExited) dead.Add(next);
                else warm = next;
            }
        }
        foreach (var corpse in dead)
        {
            logger.LogWarning("Pre-launched Chromium pid {Pid} had died while idle (code {ExitCode}); discarding it", corpse.Pid, corpse.ExitCode);
            _ = corpse.StopAsync(); // frees its profile and any orphaned children; never throws
        }
        try
        {
            if (warm is not null)
            {
                Signals.SetGroupPriority(warm.Pid, 0); // a live session's browser competes at normal priority
                logger.LogDebug("Took warm Chromium pid {Pid} from the pool", warm.Pid);
                return warm;
            }
            // Empty pool (a burst bigger than PoolSize, or PoolSize 0): pay the cold start. The refill starts
            // afterwards, so this launch does not share the CPU with it.
            var sw = Stopwatch.StartNew();
            var fresh = await launcher.LaunchAsync(ct);
            Signals.SetGroupPriority(fresh.Pid, 0);
            logger.LogInformation("Pool was empty; cold-launched Chromium pid {Pid} in {ElapsedMs} ms", fresh.Pid, sw.ElapsedMilliseconds);
            return fresh;
        }
        finally
        {
            // While other browsers wait idle, the session just started gets its first second to itself.
            TriggerRefill(IdleCount > 0 ? options.Value.RefillDelay : TimeSpan.Zero);
        }
    }

    /// <summary>Starts the refill loop unless it already runs (it re-reads the pool before it ends, so no request is lost).</summary>
    /// <remarks>
    /// A refill asked for at once (the pool ran empty) while the loop still waits out its delay cuts the wait short: an
    /// empty pool is never left waiting for the delay.
    /// </remarks>
    private void TriggerRefill(TimeSpan delay = default)
    {
        lock (_gate)
        {
            if (_stopping.IsCancellationRequested) return;
            if (_refilling)
            {
                if (delay <= TimeSpan.Zero) _cutDelay?.Cancel();
                return;
            }
            _refilling = true;
            var cut = delay > TimeSpan.Zero ? CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token) : null;
            _cutDelay = cut;
            _refill = Task.Run(() => RefillLoopAsync(delay, cut));
        }
    }

    /// <summary>Tops the pool up to PoolSize, launching up to RefillParallelism at once, after <paramref name="delay"/>.</summary>
    private async Task RefillLoopAsync(TimeSpan delay, CancellationTokenSource? cut)
    {
        if (cut is not null)
        {
            try { await Task.Delay(delay, cut.Token); }
            catch (OperationCanceledException) { } // cut short, or stopping: the loop's top decides
            lock (_gate) _cutDelay = null; // under the lock TriggerRefill cancels it under, so it is never cancelled disposed
            cut.Dispose();
        }
        var failures = 0;
        while (true)
        {
            int batch;
            var dead = new List<ChromiumProcess>();
            lock (_gate)
            {
                dead.AddRange(_idle.Where(b => b.HasExited));
                _idle.RemoveAll(b => b.HasExited);
                var missing = options.Value.PoolSize - _idle.Count;
                // Deciding to end and clearing the flag under the same lock as TriggerRefill's check: a take
                // that lands now either sees the loop running (and this loop sees its gap) or starts a new one.
                if (missing <= 0 || _stopping.IsCancellationRequested)
                {
                    _refilling = false;
                    batch = 0;
                }
                else
                {
                    batch = Math.Min(missing, Math.Max(1, options.Value.RefillParallelism));
                }
            }
            foreach (var corpse in dead) await corpse.StopAsync();
            if (batch == 0) return;

            var launches = Enumerable.Range(0, batch).Select(_ => launcher.LaunchAsync(_stopping.Token)).ToArray();
            try
            {
                await Task.WhenAll(launches);
            }
            catch
            {
                // Inspected one by one below.
            }
            foreach (var launch in launches.Where(l => l.IsCompletedSuccessfully)) await AddIdleAsync(launch.Result);

            var failed = launches.FirstOrDefault(l => !l.IsCompletedSuccessfully);
            if (failed is null)
            {
                failures = 0;
                continue;
            }
            if (_stopping.IsCancellationRequested) continue; // the top of the loop ends it
            // A broken Chromium (bad path, full disk) must not spin: back off, and keep the loop (and with
            // it the _refilling flag) alive so takes do not start more loops meanwhile.
            failures++;
            var backoff = TimeSpan.FromSeconds(Math.Min(MaxRetryDelay.TotalSeconds, Math.Pow(2, failures - 1)));
            logger.LogError(failed.Exception?.GetBaseException(), "Could not pre-launch a browser; the pool has {Idle} of {PoolSize}; retrying in {Delay}",
                IdleCount, options.Value.PoolSize, backoff);
            try { await Task.Delay(backoff, _stopping.Token); }
            catch (OperationCanceledException) { }
        }
    }

    private async Task AddIdleAsync(ChromiumProcess browser)
    {
        bool kept;
        lock (_gate)
        {
            kept = !_stopping.IsCancellationRequested && _idle.Count < options.Value.PoolSize;
            if (kept) _idle.Add(browser);
        }
        if (!kept)
        {
            await browser.StopAsync(); // the pool is stopping (or was shrunk): nobody will take it
            return;
        }
        // An idle browser that dies is replaced now, not when a take trips over it.
        _ = browser.Exited.ContinueWith(_ => OnIdleExited(browser), CancellationToken.None,
            TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void OnIdleExited(ChromiumProcess browser)
    {
        bool wasIdle;
        lock (_gate) wasIdle = _idle.Remove(browser);
        if (!wasIdle) return; // taken by a session: BrowserSessions watches it from there
        if (!browser.StopRequested)
            logger.LogWarning("Pre-launched Chromium pid {Pid} died while idle (code {ExitCode}); replacing it", browser.Pid, browser.ExitCode);
        _ = browser.StopAsync();
        TriggerRefill();
    }

    /// <summary>Stops refilling and stops every idle browser.</summary>
    public async Task StopAsync(CancellationToken ct)
    {
        await _stopping.CancelAsync();
        Task refill;
        lock (_gate) refill = _refill;
        try
        {
            // An in-flight launch is cancelled and cleans up after itself; one that lands anyway is stopped
            // by AddIdleAsync.
            await refill.WaitAsync(ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            logger.LogWarning("Shutdown did not wait for the pool's refill to end");
        }
        List<ChromiumProcess> idle;
        lock (_gate)
        {
            idle = [.. _idle];
            _idle.Clear();
        }
        await Task.WhenAll(idle.Select(b => b.StopAsync()));
        if (idle.Count > 0) logger.LogInformation("Stopped {Count} idle browsers", idle.Count);
    }

    public async ValueTask DisposeAsync()
    {
        // When the host never got to StopAsync (a failed start), idle browsers must not outlive the
        // worker: Chromium runs in its own session and would keep running.
        await StopAsync(CancellationToken.None);
    }

    /// <summary>For a container disposed synchronously; nothing here needs a synchronization context.</summary>
    public void Dispose() => StopAsync(CancellationToken.None).GetAwaiter().GetResult();
}
