using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Browsers;

/// <summary>Starts Chromium with a fresh profile and waits until its DevTools endpoint accepts connections.</summary>
public sealed class ChromiumLauncher(IOptions<ChromiumOptions> options, ILogger<ChromiumLauncher> logger)
{
    private static readonly HttpClient Probe = new() { Timeout = TimeSpan.FromSeconds(2) };

    public async Task<ChromiumProcess> LaunchAsync(CancellationToken ct)
    {
        var o = options.Value;
        Directory.CreateDirectory(o.DataDir);
        var profileDir = Path.Combine(o.DataDir, "profile-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(profileDir);

        // setsid makes Chromium the leader of its own process group (same pid: setsid and nice exec
        // without forking), so stopping it is one signal to the group. Pre-launched browsers start at a
        // low priority so that refilling the pool does not slow live sessions; BrowserPool raises a
        // browser back to normal priority when a session takes it.
        var psi = new ProcessStartInfo("setsid")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // As root in a container Chromium needs --no-sandbox; the rest keeps it from phoning home on a
        // closed network. Port 0: Chromium picks a free port and writes it to DevToolsActivePort.
        psi.ArgumentList.Add("nice");
        psi.ArgumentList.Add("-n");
        psi.ArgumentList.Add(o.LaunchNice.ToString(System.Globalization.CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(o.ChromiumPath);
        foreach (var arg in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--no-default-browser-check", "--mute-audio",
            "--disable-crash-reporter", "--disable-breakpad",
            $"--remote-debugging-address={o.RemoteDebuggingAddress}", "--remote-debugging-port=0",
            $"--user-data-dir={profileDir}",
        }.Concat(o.ExtraArgs).Append("about:blank"))
        {
            psi.ArgumentList.Add(arg);
        }

        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var stderr = new ConcurrentQueue<string>();
        // Drain both pipes so Chromium never blocks on a full pipe; keep the last lines for errors.
        process.ErrorDataReceived += (sender, e) =>
        {
            if (e.Data is null) return;
            stderr.Enqueue(e.Data);
            while (stderr.Count > 20) stderr.TryDequeue(out _);
        };
        process.OutputDataReceived += (_, _) => { };
        var sw = Stopwatch.StartNew();
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var browser = default(ChromiumProcess);
        try
        {
            var (port, path) = await WaitForDevToolsPort(profileDir, process, o.StartTimeout, ct);
            browser = new ChromiumProcess(process, profileDir, port, $"ws://{o.AdvertisedHost}:{port}{path}", logger);
            await WaitForEndpoint(port, process, o.StartTimeout - sw.Elapsed, ct);
            logger.LogDebug("Chromium pid {Pid} ready on port {Port} in {Elapsed} ms", process.Id, port, sw.ElapsedMilliseconds);
            return browser;
        }
        catch (Exception ex)
        {
            if (browser is not null) await browser.StopAsync();
            else
            {
                Signals.KillGroup(process.Id);
                await process.WaitForExitAsync(CancellationToken.None);
                try { Directory.Delete(profileDir, recursive: true); } catch (IOException) { }
            }
            if (ex is OperationCanceledException && ct.IsCancellationRequested) throw;
            throw new InvalidOperationException(
                $"Chromium ({o.ChromiumPath}) did not start: {ex.Message}. Last stderr lines:\n{string.Join('\n', stderr)}", ex);
        }
    }

    private static async Task<(int Port, string Path)> WaitForDevToolsPort(string profileDir, Process process, TimeSpan timeout, CancellationToken ct)
    {
        var file = Path.Combine(profileDir, "DevToolsActivePort");
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (process.HasExited) throw new InvalidOperationException($"it exited with code {process.ExitCode}");
            if (File.Exists(file))
            {
                string[] lines;
                try { lines = await File.ReadAllLinesAsync(file, ct); }
                catch (IOException) { lines = []; }
                if (lines.Length >= 2 && int.TryParse(lines[0], out var port) && lines[1].StartsWith("/devtools/browser/", StringComparison.Ordinal))
                    return (port, lines[1]);
            }
            if (deadline.Elapsed > timeout) throw new TimeoutException($"no DevToolsActivePort after {timeout.TotalSeconds:0} s");
            await Task.Delay(5, ct);
        }
    }

    private static async Task WaitForEndpoint(int port, Process process, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"it exited with code {process.ExitCode}");
            try
            {
                using var res = await Probe.GetAsync($"http://127.0.0.1:{port}/json/version", ct);
                if (res.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            if (deadline.Elapsed > timeout) throw new TimeoutException("DevTools endpoint did not answer");
            await Task.Delay(5, ct);
        }
    }
}
