using System.Collections.Concurrent;
using Boxes.Contracts;
using Boxes.Testing;
using Boxes.Worker.Sandboxes;
using Microsoft.Extensions.Logging;

namespace Boxes.Worker.Tests;

/// <summary>
/// Real sandboxes (bubblewrap, cgroups, the native agent) on this machine, with small limits so that the
/// bombs in the tests hit them quickly, under a cgroup parent of their own. Disposal proves the test left
/// nothing behind: no sandbox process, no cgroup.
/// </summary>
public abstract class SandboxTestBase(ITestOutputHelper output) : IAsyncLifetime
{
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    protected ITestOutputHelper Output { get; } = output;
    protected DirectoryInfo DataDir { get; } = Directory.CreateTempSubdirectory("boxes-sandbox-test-");
    protected ILoggerFactory Logs { get; private set; } = null!;
    protected SandboxOptions Options { get; private set; } = null!;
    protected SandboxHost Host { get; private set; } = null!;
    protected SandboxPool Pool { get; private set; } = null!;
    protected SandboxSessions Sessions { get; private set; } = null!;
    protected MemoryCheckpointStore Checkpoints { get; } = new();
    protected Guid Organization { get; } = Guid.NewGuid();

    protected virtual int PoolSize => 0;

    public virtual Task InitializeAsync()
    {
        Logs = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(new TestOutputLoggerProvider(Output)));
        Options = new SandboxOptions
        {
            DataDir = DataDir.FullName,
            BunPath = Environment.GetEnvironmentVariable("BOXES_BUN") ?? "",
            CgroupParent = "boxes-test-" + Guid.NewGuid().ToString("N")[..12],
            // Small limits: a bomb reaches them in a moment (the standard size is 2 vCPU, 4 GiB, 512 pids, 1 GiB).
            MemoryBytes = 256L * 1024 * 1024,
            Pids = 128,
            WorkspaceBytes = 64L * 1024 * 1024,
            TmpBytes = 32L * 1024 * 1024,
            PoolSize = PoolSize,
            // A range of its own per test class instance, so parallel test classes never share a uid.
            UidBase = 300_000 + Random.Shared.Next(0, 1000) * 64,
            MaxSandboxes = 64,
        };
        Host = new SandboxHost(Microsoft.Extensions.Options.Options.Create(Options), Logs.CreateLogger<SandboxHost>());
        // A host that cannot run sandboxes fails every test here; it must never turn into a silent pass.
        Assert.True(Host.Available, $"Sandboxes are unavailable on this machine: {Host.UnavailableReason}. scripts/test.sh installs bubblewrap.");
        Pool = new SandboxPool(Host, Logs.CreateLogger<SandboxPool>());
        Sessions = new SandboxSessions(Pool, Checkpoints, Microsoft.Extensions.Options.Options.Create(Options), Logs.CreateLogger<SandboxSessions>());
        return Pool.StartAsync(CancellationToken.None);
    }

    public async Task DisposeAsync()
    {
        await Sessions.StopAsync(CancellationToken.None);
        await Pool.StopAsync(CancellationToken.None);
        var parentDirs = new[] { "memory", "cpu", "pids", "freezer" }.Select(c => Path.Combine(Options.CgroupRoot, c, Options.CgroupParent))
            .Append(Path.Combine(Options.CgroupRoot, Options.CgroupParent)).Where(Directory.Exists).ToList();
        foreach (var dir in parentDirs)
        {
            Assert.Empty(Directory.EnumerateDirectories(dir)); // every sandbox's group is gone
            Directory.Delete(dir);
        }
        DataDir.Delete(recursive: true);
        Logs.Dispose();
    }

    protected Task<SandboxSession> StartAsync(BoxSpec? spec = null, Guid? boxId = null) =>
        Sessions.StartAsync(boxId ?? Guid.NewGuid(), Organization, spec ?? new BoxSpec { Runtime = SandboxRuntimes.Base }, CancellationToken.None);

    protected static Task<ExecResult> Sh(SandboxSession s, string script, TimeSpan? timeout = null, string? stdin = null) =>
        s.ExecAsync(new ExecRequest(script, null, null, null, stdin, timeout ?? TimeSpan.FromSeconds(30)), CancellationToken.None);

    /// <summary>Processes on the host running as a sandbox's uid (one given, or any of this test's range).</summary>
    protected List<int> SandboxProcessesOnHost(int? onlyUid = null)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                var uidLine = File.ReadLines(Path.Combine(dir, "status")).FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
                var uid = uidLine is null ? -1 : int.Parse(uidLine.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
                if (onlyUid is { } only ? uid == only : uid >= Options.UidBase && uid < Options.UidBase + Options.MaxSandboxes) pids.Add(pid);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException) { }
        }
        return pids;
    }
}

/// <summary>Checkpoints kept in memory: the storage seam of the worker's tests (the real store is the artifacts service, tested end to end).</summary>
public sealed class MemoryCheckpointStore : ICheckpointStore
{
    public ConcurrentDictionary<Guid, (Guid BoxId, Guid OrganizationId, byte[] Archive)> Saved { get; } = new();

    public async Task<CheckpointRecord> SaveAsync(Guid artifactId, Guid boxId, Guid organizationId, Stream archive, CancellationToken ct)
    {
        using var ms = new MemoryStream();
        await archive.CopyToAsync(ms, ct);
        Saved[artifactId] = (boxId, organizationId, ms.ToArray());
        return new CheckpointRecord(artifactId, ArtifactKinds.Checkpoint, "application/gzip", ms.Length,
            Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(ms.ToArray())), DateTimeOffset.UtcNow);
    }

    public Task<Stream?> OpenAsync(Guid artifactId, Guid organizationId, CancellationToken ct) =>
        Task.FromResult<Stream?>(Saved.TryGetValue(artifactId, out var s) && s.OrganizationId == organizationId ? new MemoryStream(s.Archive) : null);
}
