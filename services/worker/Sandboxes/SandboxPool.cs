namespace Boxes.Worker.Sandboxes;

/// <summary>
/// Sandboxes started ahead of need, so that create→ready is a take instead of a bubblewrap start. Every
/// take triggers a refill in the background. One pool serves every runtime: a sandbox's image is the same
/// for all, the runtime only decides which interpreter runs code.
/// </summary>
public sealed class SandboxPool(SandboxHost host, ILogger<SandboxPool> logger) : IHostedService, IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Queue<SandboxProcess> _idle = new(); // guarded by _gate
    private bool _refilling;                               // guarded by _gate
    private Task _refill = Task.CompletedTask;             // guarded by _gate
    private readonly CancellationTokenSource _stopping = new();

    public int IdleCount
    {
        get { lock (_gate) return _idle.Count(s => !s.Exited.IsCompleted); }
    }

    public Task StartAsync(CancellationToken ct)
    {
        if (host.Available) TriggerRefill();
        return Task.CompletedTask;
    }

    /// <summary>A started, idle sandbox (fresh when the pool is empty). The caller owns it and must stop it.</summary>
    public async Task<SandboxProcess> TakeAsync(CancellationToken ct)
    {
        SandboxProcess? warm = null;
        var dead = new List<SandboxProcess>();
        lock (_gate)
        {
            while (warm is null && _idle.TryDequeue(out var next))
            {
                if (next.Exited.IsCompleted) dead.Add(next);
                else warm = next;
            }
        }
        foreach (var corpse in dead) _ = corpse.StopAsync();
        try
        {
            return warm ?? await SandboxProcess.LaunchAsync(host, logger, ct);
        }
        finally
        {
            TriggerRefill(host.Options.RefillDelay);
        }
    }

    /// <param name="delay">
    /// After a take, the refill waits a moment: starting a sandbox costs CPU, and the one just taken is about to run
    /// its first command (on two cores the two compete).
    /// </param>
    private void TriggerRefill(TimeSpan delay = default)
    {
        lock (_gate)
        {
            if (_refilling || _stopping.IsCancellationRequested || host.Options.PoolSize <= 0) return;
            _refilling = true;
            _refill = Task.Run(() => RefillLoopAsync(delay));
        }
    }

    private async Task RefillLoopAsync(TimeSpan delay)
    {
        if (delay > TimeSpan.Zero)
        {
            try { await Task.Delay(delay, _stopping.Token); }
            catch (OperationCanceledException) { }
        }
        var failures = 0;
        while (true)
        {
            lock (_gate)
            {
                if (_idle.Count >= host.Options.PoolSize || _stopping.IsCancellationRequested)
                {
                    _refilling = false;
                    return;
                }
            }
            try
            {
                var sandbox = await SandboxProcess.LaunchAsync(host, logger, _stopping.Token);
                bool kept;
                lock (_gate)
                {
                    kept = !_stopping.IsCancellationRequested && _idle.Count < host.Options.PoolSize;
                    if (kept) _idle.Enqueue(sandbox);
                }
                if (!kept) await sandbox.StopAsync();
                else _ = sandbox.Exited.ContinueWith(_ => OnIdleExited(sandbox), CancellationToken.None,
                    TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                failures = 0;
            }
            catch (Exception ex) when (!_stopping.IsCancellationRequested)
            {
                // A broken host (no uid left, cgroups gone) must not spin: back off, keep the loop (and its flag).
                failures++;
                var backoff = TimeSpan.FromSeconds(Math.Min(30, Math.Pow(2, failures - 1)));
                logger.LogError(ex, "Could not pre-start a sandbox; retrying in {Delay}", backoff);
                try { await Task.Delay(backoff, _stopping.Token); }
                catch (OperationCanceledException) { }
            }
            catch (OperationCanceledException)
            {
                // Stopping: the top of the loop ends it.
            }
        }
    }

    /// <summary>An idle sandbox that ends is replaced now, not when a take trips over it.</summary>
    private void OnIdleExited(SandboxProcess sandbox)
    {
        bool wasIdle;
        lock (_gate)
        {
            wasIdle = _idle.Contains(sandbox);
            if (wasIdle)
            {
                var rest = _idle.Where(s => !ReferenceEquals(s, sandbox)).ToList();
                _idle.Clear();
                foreach (var s in rest) _idle.Enqueue(s);
            }
        }
        if (!wasIdle) return; // taken: SandboxSessions watches it from there
        if (!sandbox.StopRequested)
            logger.LogWarning("Idle sandbox {Name} ended by itself (exit code {ExitCode}): {Errors}; replacing it", sandbox.Name, sandbox.ExitCode, sandbox.LastErrors);
        _ = sandbox.StopAsync();
        TriggerRefill();
    }

    public async Task StopAsync(CancellationToken ct)
    {
        await _stopping.CancelAsync();
        Task refill;
        lock (_gate) refill = _refill;
        try { await refill.WaitAsync(ct); }
        catch (OperationCanceledException) { }
        List<SandboxProcess> idle;
        lock (_gate)
        {
            idle = [.. _idle];
            _idle.Clear();
        }
        await Task.WhenAll(idle.Select(s => s.StopAsync()));
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);
}
