using System.Globalization;

namespace Boxes.Worker.Sandboxes;

/// <summary>The limits one sandbox gets (its size).</summary>
public sealed record ResourceLimits(long MemoryBytes, double Cpus, int Pids);

/// <summary>
/// cgroups for sandboxes: v2 where the unified hierarchy has the memory, cpu and pids controllers, else v1
/// (one hierarchy per controller, as on this development machine). Every sandbox gets its own group under
/// <c>{root}/{parent}/</c> with memory, CPU and process limits, and a freezer for pause.
/// </summary>
public abstract class Cgroups
{
    /// <summary>Which hierarchy this host offers, or null when neither v2 with controllers nor v1 is writable here.</summary>
    public static Cgroups? Detect(string root, string parent)
    {
        var unifiedControllers = Path.Combine(root, "cgroup.controllers");
        if (File.Exists(unifiedControllers))
        {
            var controllers = File.ReadAllText(unifiedControllers).Split(' ', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (new[] { "memory", "cpu", "pids" }.All(controllers.Contains)) return new V2(root, parent);
        }
        if (new[] { "memory", "cpu", "pids", "freezer" }.All(c => File.Exists(Path.Combine(root, c, "cgroup.procs")))) return new V1(root, parent);
        return null;
    }

    public abstract string Version { get; }

    /// <summary>Creates the sandbox's group with its limits. Returns the cgroup.procs files a process writes its pid to, to join.</summary>
    public abstract IReadOnlyList<string> Create(string name, ResourceLimits limits);

    public abstract void Freeze(string name);
    public abstract void Thaw(string name);
    public abstract bool IsFrozen(string name);

    /// <summary>Pids of every process in the group.</summary>
    public abstract IReadOnlyList<int> Processes(string name);

    /// <summary>Kills every process in the group (thawing it first: a frozen process cannot die) and waits until it is empty.</summary>
    public abstract Task KillAllAsync(string name, TimeSpan timeout);

    /// <summary>Removes the group (it must be empty). Idempotent.</summary>
    public abstract Task DeleteAsync(string name);

    /// <summary>Whether any trace of the group is left (for tests and the cleanup check).</summary>
    public abstract bool Exists(string name);

    /// <summary>Bytes the group has charged right now.</summary>
    public abstract long MemoryCurrent(string name);

    /// <summary>
    /// Removes the empty groups a worker that was killed left behind (their sandboxes ended with it). A group
    /// that still holds a process cannot be removed, so another worker's live sandboxes are never touched.
    /// </summary>
    public int RemoveLeftovers()
    {
        var removed = 0;
        foreach (var parentDir in ParentDirectories().Where(Directory.Exists))
        {
            foreach (var dir in Directory.EnumerateDirectories(parentDir))
            {
                try
                {
                    Directory.Delete(dir);
                    removed++;
                }
                catch (IOException)
                {
                    // Busy: a live sandbox.
                }
            }
        }
        return removed;
    }

    protected abstract IEnumerable<string> ParentDirectories();

    protected static void Write(string path, string value) => File.WriteAllText(path, value);

    protected static async Task RemoveDirectoryAsync(string path)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                if (Directory.Exists(path)) Directory.Delete(path); // rmdir: a cgroup folder's files are not real files
                return;
            }
            catch (IOException) when (attempt < 100)
            {
                // EBUSY while the last task is still leaving the group.
                await Task.Delay(20);
            }
        }
    }

    protected static IReadOnlyList<int> ReadPids(string procsFile)
    {
        try
        {
            return File.ReadAllLines(procsFile).Where(l => l.Length > 0).Select(l => int.Parse(l, CultureInfo.InvariantCulture)).ToList();
        }
        catch (Exception ex) when (ex is IOException or DirectoryNotFoundException or UnauthorizedAccessException)
        {
            return [];
        }
    }

    private sealed class V1(string root, string parent) : Cgroups
    {
        private static readonly string[] Controllers = ["memory", "cpu", "pids", "freezer"];
        public override string Version => "v1";

        private string Dir(string controller, string name) => Path.Combine(root, controller, parent, name);

        public override IReadOnlyList<string> Create(string name, ResourceLimits limits)
        {
            foreach (var c in Controllers) Directory.CreateDirectory(Dir(c, name));
            var memory = limits.MemoryBytes.ToString(CultureInfo.InvariantCulture);
            Write(Path.Combine(Dir("memory", name), "memory.limit_in_bytes"), memory);
            // memory + swap capped at the same figure: a sandbox cannot spill into the host's swap.
            var memsw = Path.Combine(Dir("memory", name), "memory.memsw.limit_in_bytes");
            if (File.Exists(memsw)) Write(memsw, memory);
            Write(Path.Combine(Dir("cpu", name), "cpu.cfs_period_us"), "100000");
            Write(Path.Combine(Dir("cpu", name), "cpu.cfs_quota_us"), ((long)(limits.Cpus * 100_000)).ToString(CultureInfo.InvariantCulture));
            Write(Path.Combine(Dir("pids", name), "pids.max"), limits.Pids.ToString(CultureInfo.InvariantCulture));
            return Controllers.Select(c => Path.Combine(Dir(c, name), "cgroup.procs")).ToList();
        }

        public override void Freeze(string name) => Write(Path.Combine(Dir("freezer", name), "freezer.state"), "FROZEN");
        public override void Thaw(string name) => Write(Path.Combine(Dir("freezer", name), "freezer.state"), "THAWED");
        public override bool IsFrozen(string name) => File.ReadAllText(Path.Combine(Dir("freezer", name), "freezer.state")).Trim() == "FROZEN";

        public override IReadOnlyList<int> Processes(string name) => ReadPids(Path.Combine(Dir("pids", name), "cgroup.procs"));

        public override async Task KillAllAsync(string name, TimeSpan timeout)
        {
            if (!Directory.Exists(Dir("pids", name))) return;
            try { Thaw(name); }
            catch (IOException) { }
            var deadline = DateTime.UtcNow + timeout;
            // v1 has no cgroup.kill: signal every member until none is left (a fork bomb keeps forking while we
            // sweep, but pids.max bounds it and each round kills all that exist).
            while (true)
            {
                var pids = Processes(name);
                if (pids.Count == 0) return;
                foreach (var pid in pids) Browsers.Signals.KillIfInCgroup(pid, name);
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"cgroup {name} still has {pids.Count} processes");
                await Task.Delay(10);
            }
        }

        public override async Task DeleteAsync(string name)
        {
            foreach (var c in Controllers) await RemoveDirectoryAsync(Dir(c, name));
        }

        public override bool Exists(string name) => Controllers.Any(c => Directory.Exists(Dir(c, name)));

        public override long MemoryCurrent(string name) =>
            long.Parse(File.ReadAllText(Path.Combine(Dir("memory", name), "memory.usage_in_bytes")).Trim(), CultureInfo.InvariantCulture);

        protected override IEnumerable<string> ParentDirectories() => Controllers.Select(c => Path.Combine(root, c, parent));
    }

    private sealed class V2(string root, string parent) : Cgroups
    {
        public override string Version => "v2";
        private string ParentDir => Path.Combine(root, parent);
        private string Dir(string name) => Path.Combine(ParentDir, name);

        public override IReadOnlyList<string> Create(string name, ResourceLimits limits)
        {
            if (!Directory.Exists(ParentDir))
            {
                Directory.CreateDirectory(ParentDir);
            }
            // Controllers must be delegated down the tree: root → parent → sandbox.
            foreach (var level in new[] { root, ParentDir })
            {
                var subtree = Path.Combine(level, "cgroup.subtree_control");
                var enabled = File.ReadAllText(subtree);
                foreach (var c in new[] { "memory", "cpu", "pids" })
                {
                    if (enabled.Split(' ', StringSplitOptions.TrimEntries).Contains(c)) continue;
                    try
                    {
                        Write(subtree, "+" + c);
                    }
                    catch (IOException) when (level == root)
                    {
                        // v2's "no internal processes" rule: a cgroup that holds processes cannot hand controllers to
                        // its children. That is the case at the root of a container's cgroup namespace, where the
                        // worker itself lives: move its processes into a leaf of their own, then delegate.
                        var leaf = Path.Combine(root, "boxes-worker");
                        Directory.CreateDirectory(leaf);
                        foreach (var pid in ReadPids(Path.Combine(root, "cgroup.procs")))
                        {
                            try { Write(Path.Combine(leaf, "cgroup.procs"), pid.ToString(CultureInfo.InvariantCulture)); }
                            catch (IOException) { } // a kernel thread, or gone
                        }
                        Write(subtree, "+" + c);
                    }
                }
            }
            Directory.CreateDirectory(Dir(name));
            Write(Path.Combine(Dir(name), "memory.max"), limits.MemoryBytes.ToString(CultureInfo.InvariantCulture));
            var swap = Path.Combine(Dir(name), "memory.swap.max");
            if (File.Exists(swap)) Write(swap, "0");
            Write(Path.Combine(Dir(name), "cpu.max"), $"{((long)(limits.Cpus * 100_000)).ToString(CultureInfo.InvariantCulture)} 100000");
            Write(Path.Combine(Dir(name), "pids.max"), limits.Pids.ToString(CultureInfo.InvariantCulture));
            return [Path.Combine(Dir(name), "cgroup.procs")];
        }

        public override void Freeze(string name) => Write(Path.Combine(Dir(name), "cgroup.freeze"), "1");
        public override void Thaw(string name) => Write(Path.Combine(Dir(name), "cgroup.freeze"), "0");
        public override bool IsFrozen(string name) =>
            File.ReadAllLines(Path.Combine(Dir(name), "cgroup.events")).Any(l => l.Trim() == "frozen 1");

        public override IReadOnlyList<int> Processes(string name) => ReadPids(Path.Combine(Dir(name), "cgroup.procs"));

        public override async Task KillAllAsync(string name, TimeSpan timeout)
        {
            if (!Directory.Exists(Dir(name))) return;
            var kill = Path.Combine(Dir(name), "cgroup.kill");
            if (File.Exists(kill)) Write(kill, "1"); // kills the whole group at once, frozen or not
            var deadline = DateTime.UtcNow + timeout;
            while (true)
            {
                var pids = Processes(name);
                if (pids.Count == 0) return;
                foreach (var pid in pids) Browsers.Signals.KillIfInCgroup(pid, name);
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"cgroup {name} still has {pids.Count} processes");
                await Task.Delay(10);
            }
        }

        public override Task DeleteAsync(string name) => RemoveDirectoryAsync(Dir(name));
        public override bool Exists(string name) => Directory.Exists(Dir(name));
        public override long MemoryCurrent(string name) =>
            long.Parse(File.ReadAllText(Path.Combine(Dir(name), "memory.current")).Trim(), CultureInfo.InvariantCulture);

        protected override IEnumerable<string> ParentDirectories() => [ParentDir];
    }
}
