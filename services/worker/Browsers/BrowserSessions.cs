using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;

namespace Boxes.Worker.Browsers;

/// <summary>The browser sessions this worker runs, by box id.</summary>
public sealed class BrowserSessions(BrowserPool pool, ILogger<BrowserSessions> logger) : IHostedService, IAsyncDisposable, IDisposable
{
    // Lazy: concurrent starts of one box (a redelivered command racing the first) share one take.
    private readonly ConcurrentDictionary<Guid, Lazy<Task<ChromiumProcess>>> _sessions = new();
    private volatile bool _shuttingDown;

    /// <summary>
    /// Called with (box id, reason) when a session's Chromium exits without <see cref="StopAsync(Guid)"/>
    /// having been called for it. The session is already removed and cleaned up by then.
    /// </summary>
    public Func<Guid, string, Task>? OnCrashed { get; set; }

    public IReadOnlyCollection<Guid> Running => _sessions.Keys.ToArray();
    public int Count => _sessions.Count;

    /// <summary>Starts the box's browser, or returns the one already running for it (a start command may be redelivered).</summary>
    /// <remarks>Cancelling <paramref name="ct"/> stops the wait, not the start: a redelivery then finds the same browser.</remarks>
    public async Task<ChromiumProcess> StartAsync(Guid boxId, CancellationToken ct)
    {
        if (_shuttingDown) throw new InvalidOperationException("the worker is shutting down");
        var entry = _sessions.GetOrAdd(boxId, id => new Lazy<Task<ChromiumProcess>>(() => StartNewAsync(id)));
        try
        {
            return await entry.Value.WaitAsync(ct);
        }
        catch when (entry.Value.IsFaulted)
        {
            // A failed start is forgotten so that a retry of the command can try again.
            _sessions.TryRemove(new(boxId, entry));
            throw;
        }
    }

    private async Task<ChromiumProcess> StartNewAsync(Guid boxId)
    {
        var browser = await pool.TakeAsync(CancellationToken.None);
        if (_shuttingDown)
        {
            // Shutdown's sweep may have run before this take landed; nobody else would stop it.
            await browser.StopAsync();
            throw new InvalidOperationException("the worker is shutting down");
        }
        logger.LogInformation("Box {BoxId} runs in Chromium pid {Pid} at {Endpoint}", boxId, browser.Pid, browser.WebSocketUrl);
        _ = WatchAsync(boxId, browser);
        return browser;
    }

    private async Task WatchAsync(Guid boxId, ChromiumProcess browser)
    {
        await browser.Exited;
        if (browser.StopRequested) return;
        var reason = CrashReason(browser);
        logger.LogWarning("Box {BoxId}: {Reason}", boxId, reason);
        // Remove only this browser's entry: the box id may already run again in a new browser. A start
        // still in flight is this one (a stopped browser never gets here), crashed before it was handed out.
        if (_sessions.TryGetValue(boxId, out var entry)
            && (!entry.Value.IsCompleted || (entry.Value.IsCompletedSuccessfully && ReferenceEquals(entry.Value.Result, browser))))
            _sessions.TryRemove(new(boxId, entry));
        await browser.StopAsync(); // frees the profile and any orphaned children
        if (OnCrashed is { } report)
        {
            try { await report(boxId, reason); }
            catch (Exception ex) { logger.LogError(ex, "Could not report the crash of box {BoxId}", boxId); }
        }
    }

    private static string CrashReason(ChromiumProcess browser)
    {
        if (browser.ExitCode is not { } code) return $"chromium (pid {browser.Pid}) exited";
        // .NET reports a process killed by signal N as 128 + N.
        var signal = code > 128 ? (code - 128) switch
        {
            6 => " (SIGABRT)",
            9 => " (SIGKILL)",
            11 => " (SIGSEGV)",
            15 => " (SIGTERM)",
            var n => $" (signal {n.ToString(CultureInfo.InvariantCulture)})",
        } : "";
        return $"chromium exited with code {code.ToString(CultureInfo.InvariantCulture)}{signal} (pid {browser.Pid})";
    }

    /// <summary>The box's browser once it has started.</summary>
    public bool TryGet(Guid boxId, [NotNullWhen(true)] out ChromiumProcess? browser)
    {
        browser = _sessions.TryGetValue(boxId, out var entry) && entry.IsValueCreated && entry.Value.IsCompletedSuccessfully
            ? entry.Value.Result
            : null;
        return browser is not null;
    }

    /// <summary>Stops the box's browser and frees everything it held. False when it was not running here (idempotent).</summary>
    public async Task<bool> StopAsync(Guid boxId)
    {
        if (!_sessions.TryRemove(boxId, out var entry)) return false;
        try
        {
            var browser = await entry.Value; // a start in flight: let it land, then stop what it took
            await browser.StopAsync();
            logger.LogInformation("Box {BoxId} stopped; Chromium pid {Pid} and its profile are gone", boxId, browser.Pid);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Box {BoxId} had failed to start; nothing to stop", boxId);
        }
        return true;
    }

    public Task StartAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>Application shutdown: every session's Chromium is stopped (they run in their own session and would outlive the worker).</summary>
    public async Task StopAsync(CancellationToken ct)
    {
        _shuttingDown = true;
        var ids = _sessions.Keys.ToArray();
        await Task.WhenAll(ids.Select(StopAsync));
        if (ids.Length > 0) logger.LogInformation("Stopped {Count} browser sessions on shutdown", ids.Length);
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    /// <summary>For a container disposed synchronously; nothing here needs a synchronization context.</summary>
    public void Dispose() => StopAsync(CancellationToken.None).GetAwaiter().GetResult();
}
