using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace Boxes.Worker.Sandboxes;

/// <summary>
/// One running sandbox: bubblewrap with every namespace unshared, its cgroup, its host uid, and the agent
/// inside that runs its commands. Everything it holds is released by <see cref="StopAsync"/>: processes,
/// cgroup, uid, network helper; its workspace is a tmpfs in its own mount namespace and goes with it.
/// </summary>
public sealed class SandboxProcess
{
    private readonly SandboxHost _host;
    private readonly ILogger _logger;
    private readonly Process _process;
    private readonly Task<int> _exit;
    private readonly ConcurrentQueue<string> _stderr = new();
    private Process? _network;
    private Task? _stop;

    private SandboxProcess(SandboxHost host, string name, int uid, Process process, Task<int> exit, ILogger logger)
    {
        _host = host;
        Name = name;
        Uid = uid;
        _process = process;
        _exit = exit;
        _logger = logger;
        Pid = process.Id;
        Agent = new SandboxAgent(process.StandardInput.BaseStream, process.StandardOutput.BaseStream, logger);
    }

    /// <summary>The cgroup's name, unique per sandbox.</summary>
    public string Name { get; }
    /// <summary>The unprivileged host uid the sandbox runs as.</summary>
    public int Uid { get; }
    /// <summary>bubblewrap's pid on the host.</summary>
    public int Pid { get; }
    public SandboxAgent Agent { get; }
    /// <summary>Completes when bubblewrap exits, whoever caused it.</summary>
    public Task Exited => _exit;
    public bool StopRequested => Volatile.Read(ref _stop) is not null;
    public int? ExitCode => _exit.IsCompletedSuccessfully ? _exit.Result : null;
    public bool HasNetwork => _network is not null;
    public string LastErrors => string.Join('\n', _stderr);

    public static async Task<SandboxProcess> LaunchAsync(SandboxHost host, ILogger logger, CancellationToken ct)
    {
        var o = host.Options;
        var cgroups = host.Cgroups ?? throw new InvalidOperationException(host.UnavailableReason);
        var uid = host.AcquireUid();
        var name = "sbx-" + Guid.NewGuid().ToString("N");
        SandboxProcess? sandbox = null;
        try
        {
            var procsFiles = cgroups.Create(name, host.StandardLimits);
            var psi = new ProcessStartInfo(o.AgentPath)
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in LaunchArguments(host, uid, procsFiles)) psi.ArgumentList.Add(arg);
            var process = new Process { StartInfo = psi, EnableRaisingEvents = true };
            var exited = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
            process.Exited += (_, _) => exited.TrySetResult(process.ExitCode);
            process.Start();
            sandbox = new SandboxProcess(host, name, uid, process, exited.Task, logger);
            var errors = sandbox._stderr;
            process.ErrorDataReceived += (sender, e) =>
            {
                if (e.Data is null) return;
                errors.Enqueue(e.Data);
                while (errors.Count > 20) errors.TryDequeue(out _);
                logger.LogDebug("Sandbox {Name} stderr: {Line}", name, e.Data);
            };
            process.BeginErrorReadLine();
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(o.StartTimeout);
                await sandbox.Agent.PingAsync(timeout.Token);
                sandbox.AgentPid = sandbox.NamespacePid();
            }
            catch (Exception ex) when (ex is AgentException or OperationCanceledException)
            {
                await sandbox.StopAsync();
                if (ct.IsCancellationRequested) throw;
                throw new InvalidOperationException($"the sandbox did not start: {(ex is AgentException ? "it exited" : "no answer")}. {sandbox.LastErrors}".Trim(), ex);
            }
            return sandbox;
        }
        catch when (sandbox is null)
        {
            // Nothing started (a started sandbox cleans up after itself in StopAsync): give back what was taken.
            await cgroups.DeleteAsync(name);
            host.ReleaseUid(uid);
            throw;
        }
    }

    /// <summary>
    /// The launcher joins the cgroup and drops to the sandbox's uid; bubblewrap then unshares every namespace
    /// (user, pid, network, mount, ipc, uts, cgroup), drops all capabilities, clears the environment, mounts
    /// the system read-only, gives the sandbox a fresh /proc, a minimal /dev, a private /tmp and a /workspace
    /// of its own (tmpfs, so the quota is the tmpfs size), applies the seccomp filter and starts the agent.
    /// </summary>
    private static List<string> LaunchArguments(SandboxHost host, int uid, IReadOnlyList<string> procsFiles)
    {
        var o = host.Options;
        var a = new List<string> { "launch" };
        foreach (var f in procsFiles) a.AddRange(["--cgroup", f]);
        a.AddRange(["--uid", uid.ToString(CultureInfo.InvariantCulture), "--gid", uid.ToString(CultureInfo.InvariantCulture), "--seccomp"]);
        a.Add("--");
        a.AddRange([
            o.BwrapPath,
            // --as-pid-1: the agent is the namespace's init. Code in the sandbox cannot signal it (an init ignores
            // signals from its own namespace), it reaps orphans, and bubblewrap itself reaps it (with bubblewrap's
            // own init in between, that init would be left for the host's init to reap).
            "--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session", "--as-pid-1",
            "--cap-drop", "ALL", "--clearenv", "--uid", "1000", "--gid", "1000", "--hostname", "sandbox",
            "--ro-bind", "/usr", "/usr",
            "--ro-bind", host.AgentInRuntime, "/opt/boxes/bin/boxes-sandbox",
        ]);
        if (host.HasBun) a.AddRange(["--ro-bind", host.BunInRuntime, "/opt/boxes/bin/bun"]);
        foreach (var file in new[] { "passwd", "group", "hosts", "hostname", "resolv.conf" })
            a.AddRange(["--ro-bind", Path.Combine(host.EtcInRuntime, file), "/etc/" + file]);
        foreach (var file in o.EtcFiles)
        {
            var source = Path.Combine("/etc", file);
            if (File.Exists(source) || Directory.Exists(source)) a.AddRange(["--ro-bind", source, source]);
        }
        // Merged-/usr hosts (Debian 12) have /bin, /lib... as symlinks into /usr; older ones have real folders.
        foreach (var dir in new[] { "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32" })
        {
            var info = new FileInfo(dir);
            if (info.LinkTarget is { } target) a.AddRange(["--symlink", target, dir]);
            else if (Directory.Exists(dir)) a.AddRange(["--ro-bind", dir, dir]);
        }
        a.AddRange([
            "--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm",
            "--size", o.TmpBytes.ToString(CultureInfo.InvariantCulture), "--tmpfs", "/tmp",
            "--size", o.WorkspaceBytes.ToString(CultureInfo.InvariantCulture), "--tmpfs", "/workspace",
            "--dir", "/opt/boxes/bin", "--chdir", "/workspace",
            "--", "/opt/boxes/bin/boxes-sandbox", "agent",
        ]);
        return a;
    }

    /// <summary>Stops every process of the sandbox's cgroup (paused: kept in memory, off the CPU).</summary>
    public void Freeze() => _host.Cgroups!.Freeze(Name);
    public void Thaw() => _host.Cgroups!.Thaw(Name);
    public bool IsFrozen => _host.Cgroups!.IsFrozen(Name);
    public IReadOnlyList<int> ProcessIds => _host.Cgroups!.Processes(Name);

    /// <summary>The agent's pid on the host (the sandbox's namespace init), read once it answered.</summary>
    public int? AgentPid { get; private set; }

    /// <summary>The pid (on the host) of the sandbox's namespace init, the agent: bubblewrap's child, which lives in the sandbox's namespaces.</summary>
    private int? NamespacePid()
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                // /proc/<pid>/stat: "pid (comm) state ppid ...": comm may hold spaces, so split after the last ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], CultureInfo.InvariantCulture) == Pid) return pid;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or ArgumentOutOfRangeException)
            {
            }
        }
        return null;
    }

    /// <summary>
    /// Gives the sandbox egress through slirp4netns: a user-mode network stack on the host side, so the sandbox
    /// still has no host interface. The host's loopback (slirp's 10.0.2.2) is disabled, and routes inside the
    /// sandbox's namespace make private, link-local, CGNAT and reserved ranges unreachable, so only public
    /// addresses (and slirp's DNS forwarder) can be reached.
    /// </summary>
    public async Task AttachInternetAsync(CancellationToken ct)
    {
        var o = _host.Options;
        var nsPid = AgentPid ?? throw new InvalidOperationException("the sandbox's namespace process was not found");
        var slirp = new ProcessStartInfo(o.Slirp4netnsPath) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        // By path, not by pid: given a pid, slirp4netns also joins the process's user namespace, which here is
        // bubblewrap's inner one (a child of the namespace that owns the network), and then may not enter the network.
        foreach (var arg in new[] { "--configure", "--mtu=65520", "--disable-host-loopback", "--netns-type=path", $"/proc/{nsPid}/ns/net", "tap0" })
            slirp.ArgumentList.Add(arg);
        _network = Process.Start(slirp)!;
        _network.OutputDataReceived += (_, _) => { };
        _network.ErrorDataReceived += (_, e) => { if (e.Data is not null) _logger.LogDebug("slirp4netns {Name}: {Line}", Name, e.Data); };
        _network.BeginOutputReadLine();
        _network.BeginErrorReadLine();

        // --configure brings tap0 up with 10.0.2.100 and a default route; wait for that, then close the rest.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!(await RunInNamespaceAsync(nsPid, "addr show dev tap0", ct)).Contains("10.0.2.100", StringComparison.Ordinal))
        {
            if (_network.HasExited) throw new InvalidOperationException($"slirp4netns exited with code {_network.ExitCode}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException("slirp4netns did not configure tap0 within 10 s");
            await Task.Delay(10, ct);
        }
        // slirp's own 10.0.2.0/24 stays reachable through its more specific route (its DNS forwarder lives there).
        var blocked = new[]
        {
            "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12", "192.0.0.0/24",
            "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        };
        // "replace", not "add": idempotent, so a route that is somehow there already is no failure.
        await RunInNamespaceAsync(nsPid, "-batch -", ct, string.Join('\n', blocked.Select(r => $"route replace unreachable {r}")) + "\n");
    }

    private async Task<string> RunInNamespaceAsync(int nsPid, string ipArguments, CancellationToken ct, string? stdin = null)
    {
        var o = _host.Options;
        var psi = new ProcessStartInfo(o.NsenterPath)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = stdin is not null, UseShellExecute = false,
        };
        foreach (var arg in new[] { "--target", nsPid.ToString(CultureInfo.InvariantCulture), "--net", "--", o.IpPath }.Concat(ipArguments.Split(' ')))
            psi.ArgumentList.Add(arg);
        using var p = Process.Start(psi)!;
        if (stdin is not null)
        {
            await p.StandardInput.WriteAsync(stdin);
            p.StandardInput.Close();
        }
        var output = await p.StandardOutput.ReadToEndAsync(ct);
        var errors = await p.StandardError.ReadToEndAsync(ct);
        await p.WaitForExitAsync(ct);
        if (p.ExitCode != 0 && stdin is not null) throw new InvalidOperationException($"ip {ipArguments} failed: {errors}");
        return output;
    }

    /// <summary>
    /// Ends the sandbox and frees everything: the agent's input closes (it ends its commands), every process
    /// of the cgroup is killed (thawed first), bubblewrap exits, the cgroup is removed and the uid returned.
    /// Idempotent and never throws: what it cannot clean is logged.
    /// </summary>
    public Task StopAsync()
    {
        if (Volatile.Read(ref _stop) is { } running) return running;
        var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (Interlocked.CompareExchange(ref _stop, mine.Task, null) is { } existing) return existing;
        _ = RunStopAsync(mine);
        return mine.Task;
    }

    private async Task RunStopAsync(TaskCompletionSource done)
    {
        var cgroups = _host.Cgroups!;
        try
        {
            // Top down, so that every process is reaped by its own parent (a process killed before its child
            // leaves that child a zombie of the host's init): the namespace's init (the agent) first, which takes
            // every process of the sandbox's pid namespace with it and is reaped by bubblewrap, which then exits
            // and is reaped by us. Closing the agent's input first lets it end on its own.
            try { cgroups.Thaw(Name); } // a frozen process cannot die
            catch (IOException) { }
            // Pids are only signalled while they are members of this sandbox's cgroup: bubblewrap's pid is free for
            // reuse the moment it is reaped, which can be before its Exited event has run.
            await Agent.DisposeAsync();
            if (!_exit.IsCompleted && AgentPid is { } agent) Browsers.Signals.KillIfInCgroup(agent, Name);
            try { await _exit.WaitAsync(TimeSpan.FromSeconds(5)); }
            catch (TimeoutException) { Browsers.Signals.KillIfInCgroup(Pid, Name); }
            // Whatever is left in the cgroup (nothing, normally) goes too.
            await cgroups.KillAllAsync(Name, TimeSpan.FromSeconds(10));
            await _exit.WaitAsync(TimeSpan.FromSeconds(10));
            if (_network is { HasExited: false } slirp)
            {
                slirp.Kill();
                await slirp.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5));
            }
            _network?.Dispose();
            await cgroups.DeleteAsync(Name);
            _process.Dispose();
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Stopping sandbox {Name} (pid {Pid}) did not finish cleanly", Name, Pid);
        }
        finally
        {
            _host.ReleaseUid(Uid);
            done.TrySetResult();
        }
    }
}
