using System.Diagnostics;

namespace Boxes.Cli.Terminal;

/// <summary>
/// The local terminal in raw mode (<c>stty raw -echo</c>) for as long as this lives: every key, Ctrl-C included, goes
/// to the remote shell, which does its own echo. Dispose restores the settings saved with <c>stty -g</c>; the
/// terminal session disposes it in a finally block and on SIGTERM/SIGHUP, so an exception or a kill does not leave
/// the user's terminal unusable.
/// </summary>
internal sealed class RawMode : IDisposable
{
    private readonly string _stty;
    private readonly string _saved;
    private int _restored;

    private RawMode(string stty, string saved)
    {
        _stty = stty;
        _saved = saved;
    }

    /// <summary>Switches stdin's terminal to raw mode, or returns null where there is no stty (Windows).</summary>
    public static async Task<RawMode?> EnterAsync(CancellationToken cancellationToken)
    {
        if (OperatingSystem.IsWindows()) return null;
        var stty = File.Exists("/bin/stty") ? "/bin/stty" : "stty";
        var (ok, saved) = await RunAsync(stty, ["-g"], cancellationToken);
        if (!ok || saved.Length == 0) throw new IOException("Could not read the terminal's settings with 'stty -g'.");
        var mode = new RawMode(stty, saved);
        var (entered, _) = await RunAsync(stty, ["raw", "-echo"], cancellationToken);
        if (!entered)
        {
            mode.Dispose();
            throw new IOException("Could not switch the terminal to raw mode with 'stty raw -echo'.");
        }
        return mode;
    }

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _restored, 1) == 1) return;
        // Synchronous on purpose: this runs from finally blocks and signal handlers on the way out of the process.
        using var process = Start(_stty, [_saved]);
        process.WaitForExit(5_000);
    }

    private static async Task<(bool Ok, string Output)> RunAsync(string stty, string[] arguments, CancellationToken cancellationToken)
    {
        using var process = Start(stty, arguments);
        var output = await process.StandardOutput.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode == 0, output.Trim());
    }

    /// <summary>stty acts on its own standard input, so it inherits ours (the terminal); its output is captured.</summary>
    private static Process Start(string stty, string[] arguments)
    {
        var info = new ProcessStartInfo(stty) { RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments) info.ArgumentList.Add(argument);
        return Process.Start(info) ?? throw new IOException($"Could not start {stty}.");
    }
}
