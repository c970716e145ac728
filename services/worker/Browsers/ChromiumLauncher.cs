using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Browsers;

/// <summary>Starts Chromium with a fresh profile and waits until its DevTools endpoint accepts connections.</summary>
public sealed class ChromiumLauncher(IOptions<ChromiumOptions> options, ILogger<ChromiumLauncher> logger)
{
    // No proxy: the probe goes to this host's own Chromium, whatever HTTP_PROXY the worker runs with.
    private static readonly HttpClient Probe = new(new SocketsHttpHandler { UseProxy = false }) { Timeout = TimeSpan.FromSeconds(2) };
    private const int StderrLinesKept = 20;
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    public async Task<ChromiumProcess> LaunchAsync(CancellationToken ct)
    {
        var o = options.Value;
        if (Path.IsPathRooted(o.ChromiumPath) && !File.Exists(o.ChromiumPath))
            throw new InvalidOperationException($"Chromium not found at {o.ChromiumPath} (setting Worker:ChromiumPath).");
        Directory.CreateDirectory(o.DataDir);
        var profileDir = Path.Combine(o.DataDir, "profile-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(profileDir);

        var psi = StartInfo(o, profileDir);
        var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
        var exit = WatchExit(process);
        var stderr = new ConcurrentQueue<string>();
        // Drain both pipes so Chromium never blocks on a full pipe; keep the last stderr lines for errors.
        process.ErrorDataReceived += (sender, e) =>
        {
            if (e.Data is null) return;
            stderr.Enqueue(e.Data);
            while (stderr.Count > StderrLinesKept) stderr.TryDequeue(out _);
            logger.LogDebug("Chromium pid {Pid} stderr: {Line}", process.Id, e.Data);
        };
        process.OutputDataReceived += (_, _) => { };

        var sw = Stopwatch.StartNew();
        var started = false;
        try
        {
            process.Start();
            started = true;
            process.BeginErrorReadLine();
            process.BeginOutputReadLine();
            var (port, path) = await WaitForDevToolsPort(profileDir, process, o.StartTimeout, ct);
            await WaitForEndpoint(ProbeHost(o.RemoteDebuggingAddress), port, process, o.StartTimeout - sw.Elapsed, ct);
            if (o.WarmUp) await WarmUpAsync($"ws://{ProbeHost(o.RemoteDebuggingAddress)}:{port}{path}", ct);
            var browser = new ChromiumProcess(process, exit, profileDir, port, $"ws://{o.AdvertisedHost}:{port}{path}", logger);
            logger.LogDebug("Chromium pid {Pid} ready on port {Port} in {ElapsedMs} ms", browser.Pid, port, sw.ElapsedMilliseconds);
            return browser;
        }
        catch (Exception ex)
        {
            if (started)
            {
                var pid = process.Id;
                await ChromiumProcess.KillAndCleanUpAsync(pid, profileDir, exit, logger);
                // Let the last stderr lines arrive: they usually say why Chromium gave up.
                using (var drain = new CancellationTokenSource(TimeSpan.FromSeconds(1)))
                {
                    try { await process.WaitForExitAsync(drain.Token); }
                    catch (OperationCanceledException) { }
                }
                process.Dispose();
            }
            else
            {
                try { Directory.Delete(profileDir, recursive: true); }
                catch (IOException) { }
            }
            if (ex is OperationCanceledException && ct.IsCancellationRequested) throw;
            var lines = stderr.IsEmpty ? "(none)" : string.Join('\n', stderr);
            logger.LogWarning(ex, "Chromium did not start after {ElapsedMs} ms", sw.ElapsedMilliseconds);
            throw new InvalidOperationException(
                $"Chromium ({o.ChromiumPath}) did not start: {ex.Message}. Last stderr lines:\n{lines}", ex);
        }
    }

    private static ProcessStartInfo StartInfo(ChromiumOptions o, string profileDir)
    {
        // setsid makes Chromium the leader of its own process group (same pid: setsid, nice and Debian's
        // wrapper script all exec without forking), so stopping it is one signal to the group. Pre-launched
        // browsers start at a low priority so that refilling the pool does not slow live sessions;
        // BrowserPool raises a browser back to normal priority when a session takes it.
        var psi = new ProcessStartInfo("setsid")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        // Chromium starts its crashpad handlers even with --disable-crash-reporter, in their own session
        // (out of reach of the group kill) with the crash database on their command line. Pointing that
        // database into the profile keeps crash dumps (page memory of a client's session) from outliving
        // the session and lets ChromiumProcess find the handlers by the profile path.
        psi.Environment["BREAKPAD_DUMP_LOCATION"] = Path.Combine(profileDir, "crash-reports");
        psi.ArgumentList.Add("nice");
        psi.ArgumentList.Add("-n");
        psi.ArgumentList.Add(o.LaunchNice.ToString(CultureInfo.InvariantCulture));
        psi.ArgumentList.Add(o.ChromiumPath);
        // As root in a container Chromium needs --no-sandbox; the rest keeps it from phoning home on a
        // closed network. Port 0: Chromium picks a free port and writes it to DevToolsActivePort, so two
        // browsers never race for a port we chose.
        foreach (var arg in new[]
        {
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            "--disable-dev-shm-usage", "--no-default-browser-check", "--mute-audio",
            "--disable-crash-reporter", "--disable-breakpad",
            $"--remote-debugging-address={o.RemoteDebuggingAddress}", "--remote-debugging-port=0",
            $"--user-data-dir={profileDir}",
        }.Concat(o.RendererProcessLimit > 0 ? [$"--renderer-process-limit={o.RendererProcessLimit}"] : Array.Empty<string>())
         .Concat(o.ExtraArgs).Append("about:blank"))
        {
            psi.ArgumentList.Add(arg);
        }
        return psi;
    }

    /// <summary>
    /// Completes with the exit code when the main process exits. The Exited event, not WaitForExitAsync: the
    /// latter also waits for EOF on the redirected pipes, which an orphaned helper can hold open long after
    /// Chromium itself is gone.
    /// </summary>
    private static Task<int> WatchExit(Process process)
    {
        var exited = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult(process.ExitCode);
        return exited.Task;
    }

    /// <summary>Where to probe DevTools from this host: a wildcard listen address is reachable on loopback.</summary>
    private static string ProbeHost(string listenAddress) => listenAddress switch
    {
        "" or "0.0.0.0" => "127.0.0.1",
        "::" or "[::]" => "[::1]",
        _ when listenAddress.Contains(':') && !listenAddress.StartsWith('[') => $"[{listenAddress}]",
        _ => listenAddress,
    };

    private static async Task<(int Port, string Path)> WaitForDevToolsPort(string profileDir, Process process, TimeSpan timeout, CancellationToken ct)
    {
        var file = Path.Combine(profileDir, "DevToolsActivePort");
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            ct.ThrowIfCancellationRequested();
            if (process.HasExited) throw new InvalidOperationException($"it exited with code {process.ExitCode} before writing DevToolsActivePort");
            if (File.Exists(file))
            {
                string[] lines;
                try { lines = await File.ReadAllLinesAsync(file, ct); }
                catch (IOException) { lines = []; } // being written: read it again on the next poll
                if (lines.Length >= 2
                    && int.TryParse(lines[0], NumberStyles.None, CultureInfo.InvariantCulture, out var port)
                    && lines[1].StartsWith("/devtools/browser/", StringComparison.Ordinal))
                    return (port, lines[1]);
            }
            if (deadline.Elapsed > timeout) throw new TimeoutException($"no DevToolsActivePort after {timeout.TotalSeconds:0.#} s");
            await Task.Delay(PollInterval, ct);
        }
    }

    /// <summary>
    /// Opens and closes one page, so that the session's first page does not pay for the browser's first one (its
    /// first navigation and renderer start): measured here, a fresh browser's first open/close took 70–260 ms and a
    /// warmed one's 50–60 ms. It runs while the browser waits in the pool, at low priority. A failure only costs
    /// the warm-up.
    /// </summary>
    private async Task WarmUpAsync(string browserEndpoint, CancellationToken ct)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
            timeout.CancelAfter(TimeSpan.FromSeconds(10));
            using var cdp = new System.Net.WebSockets.ClientWebSocket();
            await cdp.ConnectAsync(new Uri(browserEndpoint), timeout.Token);
            var created = await CallAsync(cdp, 1, "Target.createTarget", """{"url":"about:blank"}""", timeout.Token);
            var targetId = created.GetProperty("targetId").GetString();
            await CallAsync(cdp, 2, "Target.closeTarget", $$"""{"targetId":"{{targetId}}"}""", timeout.Token);
            await cdp.CloseAsync(System.Net.WebSockets.WebSocketCloseStatus.NormalClosure, null, timeout.Token);
        }
        catch (Exception ex) when (ex is System.Net.WebSockets.WebSocketException or OperationCanceledException or System.Text.Json.JsonException
                                   or InvalidOperationException or KeyNotFoundException)
        {
            if (ct.IsCancellationRequested) throw;
            logger.LogDebug(ex, "Warming up Chromium at {Endpoint} failed; it serves cold", browserEndpoint);
        }
    }

    /// <summary>One CDP command on a browser-level socket: sends it and returns its result, skipping events.</summary>
    private static async Task<System.Text.Json.JsonElement> CallAsync(System.Net.WebSockets.ClientWebSocket cdp, int id, string method, string parameters,
        CancellationToken ct)
    {
        await cdp.SendAsync(System.Text.Encoding.UTF8.GetBytes($$"""{"id":{{id}},"method":"{{method}}","params":{{parameters}}}"""),
            System.Net.WebSockets.WebSocketMessageType.Text, true, ct);
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var r = await cdp.ReceiveAsync(buffer, ct);
            if (r.MessageType == System.Net.WebSockets.WebSocketMessageType.Close) throw new InvalidOperationException("the browser closed the socket");
            message.Write(buffer, 0, r.Count);
            if (!r.EndOfMessage) continue;
            using var doc = System.Text.Json.JsonDocument.Parse(message.ToArray());
            message.SetLength(0);
            if (!doc.RootElement.TryGetProperty("id", out var got) || got.GetInt32() != id) continue;
            if (doc.RootElement.TryGetProperty("error", out var error)) throw new InvalidOperationException($"{method}: {error}");
            return doc.RootElement.GetProperty("result").Clone();
        }
    }

    /// <summary>DevToolsActivePort is written as the socket starts listening; a request that answers proves it serves.</summary>
    private static async Task WaitForEndpoint(string host, int port, Process process, TimeSpan timeout, CancellationToken ct)
    {
        var url = $"http://{host}:{port}/json/version";
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited) throw new InvalidOperationException($"it exited with code {process.ExitCode} before {url} answered");
            try
            {
                using var res = await Probe.GetAsync(url, ct);
                if (res.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException) { }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested) { } // the probe's own timeout
            if (deadline.Elapsed > timeout) throw new TimeoutException($"{url} did not answer within the start timeout");
            await Task.Delay(PollInterval, ct);
        }
    }
}
