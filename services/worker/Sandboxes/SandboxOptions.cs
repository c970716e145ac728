namespace Boxes.Worker.Sandboxes;

/// <summary>How this worker runs code sandboxes (config section <c>Sandbox</c>).</summary>
public sealed class SandboxOptions
{
    public const string Section = "Sandbox";

    /// <summary>Whether this worker runs sandboxes at all (it also needs bubblewrap and cgroups; see <see cref="SandboxHost"/>).</summary>
    public bool Enabled { get; set; } = true;

    public string BwrapPath { get; set; } = "/usr/bin/bwrap";
    /// <summary>The native launcher/agent (services/worker/Sandboxes/Agent), built next to the worker's assembly.</summary>
    public string AgentPath { get; set; } = Path.Combine(AppContext.BaseDirectory, "boxes-sandbox");
    /// <summary>The bun binary for the <c>bun</c> runtime (from the npm package <c>bun</c>; scripts install it). Empty: bun is not offered.</summary>
    public string BunPath { get; set; } = "";
    public string Slirp4netnsPath { get; set; } = "/usr/bin/slirp4netns";
    /// <summary>iproute2's <c>ip</c>, used to close the private ranges inside an internet-enabled sandbox's network.</summary>
    public string IpPath { get; set; } = "/usr/sbin/ip";
    public string NsenterPath { get; set; } = "/usr/bin/nsenter";

    /// <summary>Where generated files (the sandbox's /etc/passwd and friends) live.</summary>
    public string DataDir { get; set; } = Path.Combine(Path.GetTempPath(), "boxes-worker", "sandbox");

    /// <summary>Each sandbox runs as its own unprivileged host uid/gid, from this base upwards.</summary>
    public int UidBase { get; set; } = 200_000;
    /// <summary>How many sandboxes may exist on this worker at once (also the size of the uid range).</summary>
    public int MaxSandboxes { get; set; } = 256;

    /// <summary>Idle sandboxes kept started (one pool for every runtime: the image is the same, the runtime only picks the interpreter).</summary>
    public int PoolSize { get; set; } = 4;

    /// <summary>How long the pool waits after a take before it starts a replacement (keeps the CPU for the taken one's first command).</summary>
    public TimeSpan RefillDelay { get; set; } = TimeSpan.FromMilliseconds(250);

    public string CgroupRoot { get; set; } = "/sys/fs/cgroup";
    /// <summary>The group every sandbox's group lives under.</summary>
    public string CgroupParent { get; set; } = "boxes";

    /// <summary>The <c>standard</c> size: 2 vCPUs, 4 GiB of memory (workspace included: it is a tmpfs), a process cap.</summary>
    public double Cpus { get; set; } = 2;
    public long MemoryBytes { get; set; } = 4L * 1024 * 1024 * 1024;
    public int Pids { get; set; } = 512;
    /// <summary>The workspace quota: /workspace is a tmpfs of this size.</summary>
    public long WorkspaceBytes { get; set; } = 1L * 1024 * 1024 * 1024;
    /// <summary>Size of the sandbox's private /tmp.</summary>
    public long TmpBytes { get; set; } = 512L * 1024 * 1024;

    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(10);
    public TimeSpan DefaultExecTimeout { get; set; } = TimeSpan.FromSeconds(60);
    public TimeSpan MaxExecTimeout { get; set; } = TimeSpan.FromHours(1);
    /// <summary>Output kept per stream of one exec; the rest is dropped and the answer says it was truncated.</summary>
    public int MaxOutputBytes { get; set; } = 16 * 1024 * 1024;
    /// <summary>The largest file fs/read and fs/write move in one call.</summary>
    public int MaxFileBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Read-only from the host into the sandbox's /etc: what programs need to run, nothing that identifies the host.</summary>
    public string[] EtcFiles { get; set; } =
    [
        "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "alternatives", "ssl", "ca-certificates", "ca-certificates.conf", "localtime",
        "timezone", "nsswitch.conf", "mime.types", "protocols", "services", "os-release", "debian_version", "inputrc", "bash.bashrc",
        "profile", "terminfo", "python3", "python3.11", "gai.conf", "host.conf", "magic", "magic.mime",
    ];
}
