using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Boxes.Contracts;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Sandboxes;

/// <summary>The sandboxes this worker runs, by box id.</summary>
public sealed class SandboxSessions(
    SandboxPool pool, ICheckpointStore checkpoints, IOptions<SandboxOptions> options, ILogger<SandboxSessions> logger)
    : IHostedService, IAsyncDisposable
{
    // Lazy: a redelivered start racing the first shares one start.
    private readonly ConcurrentDictionary<Guid, Lazy<Task<SandboxSession>>> _sessions = new();
    // Data-plane requests that arrived before the box's StartBox did (the API forwards as soon as the box is placed).
    private readonly ConcurrentDictionary<Guid, TaskCompletionSource<Task<SandboxSession>>> _awaited = new();
    private volatile bool _shuttingDown;

    /// <summary>Called with (box id, reason) when a sandbox ends without being asked to; it is already cleaned up.</summary>
    public Func<Guid, string, Task>? OnCrashed { get; set; }

    public IReadOnlyCollection<Guid> Running => _sessions.Keys.ToArray();

    /// <summary>
    /// Starts the box's sandbox from the pool, applies what it was asked for (network, a checkpoint to start
    /// from), or returns the one already running for it.
    /// </summary>
    public async Task<SandboxSession> StartAsync(Guid boxId, Guid organizationId, BoxSpec spec, CancellationToken ct)
    {
        if (_shuttingDown) throw new InvalidOperationException("the worker is shutting down");
        var entry = _sessions.GetOrAdd(boxId, id => new Lazy<Task<SandboxSession>>(() => StartNewAsync(id, organizationId, spec)));
        if (_awaited.TryGetValue(boxId, out var waiting)) waiting.TrySetResult(entry.Value);
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

    private async Task<SandboxSession> StartNewAsync(Guid boxId, Guid organizationId, BoxSpec spec)
    {
        var sandbox = await pool.TakeAsync(CancellationToken.None);
        var session = new SandboxSession(boxId, organizationId, spec, sandbox, options.Value);
        try
        {
            if (spec.Network == SandboxNetworks.Internet) await sandbox.AttachInternetAsync(CancellationToken.None);
            if (spec.FromCheckpoint is { } checkpoint)
            {
                await using var archive = await checkpoints.OpenAsync(checkpoint, organizationId, CancellationToken.None)
                    ?? throw new InvalidOperationException($"checkpoint {checkpoint} was not found");
                await session.RestoreAsync(archive, CancellationToken.None);
            }
        }
        catch
        {
            await sandbox.StopAsync();
            throw;
        }
        if (_shuttingDown)
        {
            await sandbox.StopAsync();
            throw new InvalidOperationException("the worker is shutting down");
        }
        logger.LogInformation("Box {BoxId} runs in sandbox {Name} (bwrap pid {Pid}, uid {Uid})", boxId, sandbox.Name, sandbox.Pid, sandbox.Uid);
        _ = WatchAsync(boxId, session);
        return session;
    }

    private async Task WatchAsync(Guid boxId, SandboxSession session)
    {
        var sandbox = session.Sandbox;
        await sandbox.Exited;
        if (sandbox.StopRequested) return;
        var reason = $"the sandbox's processes ended unexpectedly (bwrap exit code {sandbox.ExitCode}). {sandbox.LastErrors}".Trim();
        logger.LogWarning("Box {BoxId}: {Reason}", boxId, reason);
        if (_sessions.TryGetValue(boxId, out var entry) && entry.Value.IsCompletedSuccessfully && ReferenceEquals(entry.Value.Result, session))
            _sessions.TryRemove(new(boxId, entry));
        await sandbox.StopAsync();
        if (OnCrashed is { } report)
        {
            try { await report(boxId, reason); }
            catch (Exception ex) { logger.LogError(ex, "Could not report the crash of box {BoxId}", boxId); }
        }
    }

    /// <summary>
    /// The box's sandbox once it has started here, waiting up to <paramref name="wait"/> for its StartBox to arrive
    /// and the start to finish; null when it does not come. Throws what the start threw when it failed.
    /// </summary>
    public async Task<SandboxSession?> WaitForStartAsync(Guid boxId, TimeSpan wait, CancellationToken ct)
    {
        if (_sessions.TryGetValue(boxId, out var entry)) return await entry.Value.WaitAsync(wait, ct);
        var announced = _awaited.GetOrAdd(boxId, _ => new TaskCompletionSource<Task<SandboxSession>>(TaskCreationOptions.RunContinuationsAsynchronously));
        try
        {
            // The start may have landed between the first look and registering.
            if (_sessions.TryGetValue(boxId, out entry)) return await entry.Value.WaitAsync(wait, ct);
            var start = await announced.Task.WaitAsync(wait, ct);
            return await start.WaitAsync(wait, ct);
        }
        catch (TimeoutException)
        {
            return null;
        }
        finally
        {
            _awaited.TryRemove(new(boxId, announced));
        }
    }

    public bool TryGet(Guid boxId, [NotNullWhen(true)] out SandboxSession? session)
    {
        session = _sessions.TryGetValue(boxId, out var entry) && entry.IsValueCreated && entry.Value.IsCompletedSuccessfully
            ? entry.Value.Result
            : null;
        return session is not null;
    }

    /// <summary>
    /// Stops the box's sandbox and frees everything it held. A non-ephemeral sandbox's workspace is archived
    /// first, so it outlives the sandbox as a checkpoint artifact. False when it was not running here.
    /// </summary>
    public async Task<bool> StopAsync(Guid boxId)
    {
        if (!_sessions.TryRemove(boxId, out var entry)) return false;
        SandboxSession session;
        try
        {
            session = await entry.Value;
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Box {BoxId} had failed to start; nothing to stop", boxId);
            return true;
        }
        if (session.Spec.Ephemeral == false && !session.Sandbox.Exited.IsCompleted)
        {
            try
            {
                if (session.Paused) await session.ResumeAsync(CancellationToken.None);
                var saved = await session.CheckpointAsync(checkpoints, options.Value.DataDir, CancellationToken.None);
                logger.LogInformation("Box {BoxId} is not ephemeral: its workspace is kept as checkpoint {ArtifactId}", boxId, saved.ArtifactId);
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Box {BoxId}: the final checkpoint of a non-ephemeral sandbox failed; stopping it anyway", boxId);
            }
        }
        await session.Sandbox.StopAsync();
        logger.LogInformation("Box {BoxId} stopped; sandbox {Name} and its cgroup are gone", boxId, session.Sandbox.Name);
        return true;
    }

    public Task StartAsync(CancellationToken ct) => Task.CompletedTask;

    public async Task StopAsync(CancellationToken ct)
    {
        _shuttingDown = true;
        await Task.WhenAll(_sessions.Keys.ToArray().Select(StopAsync));
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);
}
