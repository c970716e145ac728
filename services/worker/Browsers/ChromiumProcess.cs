using System.Diagnostics;

namespace Boxes.Worker.Browsers;

/// <summary>One running Chromium with its own profile folder and DevTools endpoint.</summary>
public sealed class ChromiumProcess : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly Task<int> _exit;
    private Task? _stop;

    internal ChromiumProcess(Process process, Task<int> exit, string profileDir, int port, string webSocketUrl, ILogger logger)
    {
        Process = process;
        _exit = exit;
        _logger = logger;
        ProfileDir = profileDir;
        Port = port;
        WebSocketUrl = webSocketUrl;
        Pid = process.Id;
    }

    /// <summary>The main Chromium process. Disposed by <see cref="StopAsync"/>; use <see cref="Pid"/> and <see cref="Exited"/> after that.</summary>
    public Process Process { get; }
    public int Pid { get; }
    public string ProfileDir { get; }
    public int Port { get; }
    /// <summary>The browser-level CDP endpoint, <c>ws://HOST:PORT/devtools/browser/GUID</c>.</summary>
    public string WebSocketUrl { get; }
    /// <summary>Completes when the main process exits, whoever caused it (a crash, an outside kill, or <see cref="StopAsync"/>).</summary>
    public Task Exited => _exit;
    public bool HasExited => _exit.IsCompleted;
    /// <summary>True once <see cref="StopAsync"/> was called: an exit after that is not a crash.</summary>
    public bool StopRequested => Volatile.Read(ref _stop) is not null;
    /// <summary>The main process's exit code once it has exited (128 + signal when a signal killed it).</summary>
    public int? ExitCode => _exit.IsCompletedSuccessfully ? _exit.Result : null;

    /// <summary>
    /// Kills the whole process tree (renderers, zygotes, utilities, crash handlers) and deletes the profile
    /// folder. Idempotent: every caller awaits the same stop. Never throws; what it cannot clean is logged.
    /// </summary>
    public Task StopAsync()
    {
        if (Volatile.Read(ref _stop) is { } running) return running;
        // Only the first caller's stop runs; later callers (a redelivered stop, a crash watcher, shutdown)
        // await the same task, so none of them returns before the profile folder is gone.
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _stop, mine.Task, null) is { } existing) return existing;
        _ = RunStopAsync(mine);
        return mine.Task;
    }

    private async Task RunStopAsync(TaskCompletionSource done)
    {
        try
        {
            await KillAndCleanUpAsync(Pid, ProfileDir, _exit, _logger);
            Process.Dispose();
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Stopping Chromium pid {Pid} failed", Pid);
        }
        finally
        {
            done.TrySetResult();
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());

    /// <summary>
    /// SIGKILL for the process group Chromium leads (see <see cref="ChromiumLauncher"/>), plus a sweep for
    /// anything outside the group that still names the profile folder, then the folder itself.
    /// Also used by the launcher when a launch fails half-way.
    /// </summary>
    internal static async Task KillAndCleanUpAsync(int pid, string profileDir, Task exit, ILogger logger)
    {
        // One signal for the whole group: far cheaper than Process.Kill(entireProcessTree), which reads
        // the status of every process on the machine and signals the tree one by one.
        Signals.KillGroup(pid);
        KillStragglers(profileDir, logger);
        try
        {
            // SIGKILL cannot be ignored, but a process stuck in uninterruptible I/O only dies when the I/O
            // returns; do not hang a stop command on that.
            await exit.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (TimeoutException)
        {
            logger.LogError("Chromium pid {Pid} did not exit 10 s after SIGKILL; deleting its profile anyway", pid);
        }
        // A helper spawned while the signal was in flight is caught by a second sweep. SIGKILL is not instant:
        // a killed process keeps its command line until it has exited, so sweep until none is left (a stop that
        // returns must mean nothing of the session runs). Proven by SessionTests.A_killed_chromium_is_reported_as_crashed_with_a_reason.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (KillStragglers(profileDir, logger) > 0 && DateTime.UtcNow < deadline) await Task.Delay(10);
        await DeleteProfileAsync(profileDir, logger);
    }

    /// <summary>
    /// Kills processes outside the group that still use the profile: children re-parented after the main
    /// process died (a crash, a kill -9 from outside) and Chromium's crashpad handlers, which start their own
    /// session. The launcher puts crash dumps inside the profile so that the handlers' command lines name it.
    /// </summary>
    /// <returns>How many were still there.</returns>
    private static int KillStragglers(string profileDir, ILogger logger)
    {
        var pids = ProcessesUsing(profileDir);
        foreach (var pid in pids)
        {
            logger.LogDebug("Killing straggler pid {Pid} of profile {ProfileDir}", pid, profileDir);
            Signals.Kill(pid);
        }
        return pids.Count;
    }

    /// <summary>Live processes whose command line contains <paramref name="path"/> (zombies have an empty one).</summary>
    internal static List<int> ProcessesUsing(string path)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(path, StringComparison.Ordinal)) pids.Add(pid);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone already, or not ours to read.
            }
        }
        return pids;
    }

    private static async Task DeleteProfileAsync(string profileDir, ILogger logger)
    {
        const int attempts = 20;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (Directory.Exists(profileDir)) Directory.Delete(profileDir, recursive: true);
                return;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                if (attempt == attempts)
                {
                    // Left for an operator rather than failing the stop: the session is over either way.
                    logger.LogWarning(ex, "Could not delete profile folder {ProfileDir}", profileDir);
                    return;
                }
                // A dying child can still be writing into the profile (a new file appears mid-delete); try again shortly.
                await Task.Delay(25);
            }
        }
    }
}
