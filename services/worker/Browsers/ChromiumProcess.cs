using System.Diagnostics;

namespace Boxes.Worker.Browsers;

/// <summary>One running Chromium with its own profile folder and DevTools endpoint.</summary>
public sealed class ChromiumProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ILogger _logger;
    private int _stopped;

    internal ChromiumProcess(Process process, string profileDir, int port, string webSocketUrl, ILogger logger)
    {
        _process = process;
        _logger = logger;
        ProfileDir = profileDir;
        Port = port;
        WebSocketUrl = webSocketUrl;
        Pid = process.Id;
        // The Exited event, not WaitForExitAsync: the latter also waits for EOF on the redirected pipes,
        // which an orphaned helper process can hold open long after Chromium itself is gone.
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult();
        if (process.HasExited) exited.TrySetResult();
        Exited = exited.Task;
    }

    public int Pid { get; }
    public string ProfileDir { get; }
    public int Port { get; }
    /// <summary>The browser-level CDP endpoint, <c>ws://127.0.0.1:PORT/devtools/browser/GUID</c>.</summary>
    public string WebSocketUrl { get; }
    /// <summary>Completes when the main process exits, whoever caused it.</summary>
    public Task Exited { get; }
    public bool HasExited => Exited.IsCompleted;
    public bool StopRequested => Volatile.Read(ref _stopped) == 1;
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>Kills the whole process tree (renderers, zygotes, utilities) and deletes the profile folder. Idempotent.</summary>
    public async Task StopAsync()
    {
        if (Interlocked.Exchange(ref _stopped, 1) == 1)
        {
            await Exited;
            return;
        }
        // One signal for the whole process group (Chromium leads its own, see ChromiumLauncher): far
        // cheaper than Process.Kill(entireProcessTree), which walks every process on the machine.
        Signals.KillGroup(Pid);
        KillStragglers();
        await Exited;
        await DeleteProfileAsync();
        _process.Dispose();
    }

    /// <summary>
    /// Children re-parented after the main process died (a crash, or a kill -9 from outside) are not in
    /// its tree any more; find them by the profile folder on their command line.
    /// </summary>
    private void KillStragglers()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(ProfileDir, StringComparison.Ordinal)) Signals.Kill(pid);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone already, or not ours to read.
            }
        }
    }

    private async Task DeleteProfileAsync()
    {
        for (var attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                if (Directory.Exists(ProfileDir)) Directory.Delete(ProfileDir, recursive: true);
                return;
            }
            catch (IOException) when (attempt < 19)
            {
                // A dying child can still be writing into the profile; try again shortly.
                await Task.Delay(25);
            }
            catch (UnauthorizedAccessException ex)
            {
                _logger.LogWarning(ex, "Could not delete profile folder {ProfileDir}", ProfileDir);
                return;
            }
        }
    }

    public ValueTask DisposeAsync() => new(StopAsync());
}
