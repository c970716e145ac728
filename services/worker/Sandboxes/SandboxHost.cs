using Microsoft.Extensions.Options;

namespace Boxes.Worker.Sandboxes;

/// <summary>
/// What this host offers sandboxes: bubblewrap, the native agent, cgroups, and the pool of host uids each
/// sandbox runs as. A worker on a host missing any of them does not advertise the sandbox kind.
/// </summary>
public sealed partial class SandboxHost : IDisposable
{
    private readonly bool[] _uidsInUse;
    private readonly Lock _gate = new();

    public SandboxHost(IOptions<SandboxOptions> options, ILogger<SandboxHost> logger)
    {
        Options = options.Value;
        _uidsInUse = new bool[Math.Max(1, Options.MaxSandboxes)];
        Cgroups = Sandboxes.Cgroups.Detect(Options.CgroupRoot, Options.CgroupParent);
        UnavailableReason =
            !Options.Enabled ? "sandboxes are disabled on this worker (Sandbox:Enabled)"
            : !File.Exists(Options.BwrapPath) ? $"bubblewrap is not installed at {Options.BwrapPath} (Sandbox:BwrapPath)"
            : !File.Exists(Options.AgentPath) ? $"the sandbox agent is missing at {Options.AgentPath} (build services/worker; it needs gcc)"
            : Cgroups is null ? $"no writable cgroups with memory, cpu and pids controllers under {Options.CgroupRoot}"
            : null;
        if (UnavailableReason is null)
        {
            RuntimeDir = PrepareRuntimeDir();
            if (Cgroups!.RemoveLeftovers() is > 0 and var removed)
                logger.LogInformation("Removed {Count} empty sandbox cgroups left by an earlier run", removed);
            logger.LogInformation("Sandboxes available: bubblewrap {Bwrap}, cgroups {Version}, bun {Bun}",
                Options.BwrapPath, Cgroups!.Version, HasBun ? Options.BunPath : "not installed");
        }
        else
        {
            logger.LogWarning("Sandboxes unavailable on this worker: {Reason}", UnavailableReason);
        }
    }

    public SandboxOptions Options { get; }
    public Cgroups? Cgroups { get; }
    public string? UnavailableReason { get; }
    public bool Available => UnavailableReason is null;
    /// <summary>
    /// What every sandbox binds read-only (the agent, bun, its /etc files), in a folder every sandbox uid can
    /// reach: bubblewrap resolves bind sources as the unprivileged uid it runs as, and the worker's own
    /// folders (inside a checkout under /root, say) may not be reachable.
    /// </summary>
    public string RuntimeDir { get; } = "";
    public string AgentInRuntime => Path.Combine(RuntimeDir, "boxes-sandbox");
    public string BunInRuntime => Path.Combine(RuntimeDir, "bun");
    public string EtcInRuntime => Path.Combine(RuntimeDir, "etc");
    public bool HasBun => Options.BunPath.Length > 0 && File.Exists(Options.BunPath);
    public bool HasNetworking => File.Exists(Options.Slirp4netnsPath) && File.Exists(Options.IpPath) && File.Exists(Options.NsenterPath);

    public ResourceLimits StandardLimits => new(Options.MemoryBytes, Options.Cpus, Options.Pids);

    /// <summary>A host uid no other sandbox on this worker runs as.</summary>
    public int AcquireUid()
    {
        lock (_gate)
        {
            for (var i = 0; i < _uidsInUse.Length; i++)
            {
                if (_uidsInUse[i]) continue;
                _uidsInUse[i] = true;
                return Options.UidBase + i;
            }
        }
        throw new InvalidOperationException($"this worker already runs {_uidsInUse.Length} sandboxes (Sandbox:MaxSandboxes)");
    }

    public void ReleaseUid(int uid)
    {
        lock (_gate)
        {
            var i = uid - Options.UidBase;
            if (i >= 0 && i < _uidsInUse.Length) _uidsInUse[i] = false;
        }
    }

    private string PrepareRuntimeDir()
    {
        // A fresh folder in the system's temp folder (world-traversable), readable by all, writable by root only.
        var dir = Directory.CreateTempSubdirectory("boxes-sandbox-runtime-").FullName;
        const UnixFileMode readable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
                                      | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        SetMode(dir, readable);
        File.Copy(Options.AgentPath, AgentIn(dir));
        SetMode(AgentIn(dir), readable);
        if (HasBun) LinkOrCopy(Options.BunPath, Path.Combine(dir, "bun"), readable);
        WriteEtcFiles(Path.Combine(dir, "etc"));
        SetMode(Path.Combine(dir, "etc"), readable);
        return dir;
    }

    private static void SetMode(string path, UnixFileMode mode)
    {
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, mode);
    }

    private static string AgentIn(string dir) => Path.Combine(dir, "boxes-sandbox");

    /// <summary>bun is ~100 MB: a hard link when the file system allows, a copy otherwise.</summary>
    private static void LinkOrCopy(string source, string target, UnixFileMode mode)
    {
        if (link(source, target) != 0) File.Copy(source, target);
        SetMode(target, mode);
    }

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = System.Runtime.InteropServices.StringMarshalling.Utf8)]
    private static partial int link(string oldpath, string newpath);

    public void Dispose()
    {
        if (RuntimeDir.Length == 0) return;
        try { Directory.Delete(RuntimeDir, recursive: true); }
        catch (IOException) { }
    }

    /// <summary>The sandbox's own /etc/passwd, group, hosts, hostname and resolv.conf: nothing of the host's.</summary>
    private static void WriteEtcFiles(string dir)
    {
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "passwd"), "root:x:0:0:root:/root:/bin/sh\nsandbox:x:1000:1000:sandbox:/workspace:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n");
        File.WriteAllText(Path.Combine(dir, "group"), "root:x:0:\nsandbox:x:1000:\nnogroup:x:65534:\n");
        File.WriteAllText(Path.Combine(dir, "hosts"), "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost ip6-localhost ip6-loopback\n");
        File.WriteAllText(Path.Combine(dir, "hostname"), "sandbox\n");
        // slirp4netns's DNS forwarder, for sandboxes with network access; without it, lookups simply fail.
        File.WriteAllText(Path.Combine(dir, "resolv.conf"), "nameserver 10.0.2.3\n");
        foreach (var file in Directory.EnumerateFiles(dir))
            SetMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }
}
