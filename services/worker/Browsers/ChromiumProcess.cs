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
        Exited = process.WaitForExitAsync();
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
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Exited between the check and the kill.
        }
        await Exited;
        KillStragglers();
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
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (!cmdline.Contains(ProfileDir, StringComparison.Ordinal)) continue;
                using var p = Process.GetProcessById(pid);
                p.Kill(entireProcessTree: true);
                p.WaitForExit(TimeSpan.FromSeconds(5));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or InvalidOperationException
                                           or System.ComponentModel.Win32Exception)
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
