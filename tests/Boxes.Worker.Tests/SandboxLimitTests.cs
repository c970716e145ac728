using Boxes.Contracts;

namespace Boxes.Worker.Tests;

/// <summary>Runaway code hits the sandbox's limits (pids, memory, workspace quota, timeouts); the worker and other sandboxes carry on.</summary>
public sealed class SandboxLimitTests(ITestOutputHelper output) : SandboxTestBase(output)
{
    [Fact]
    public async Task A_fork_bomb_is_contained_by_the_pids_limit_and_killed_at_its_timeout()
    {
        var bomb = await StartAsync();
        var neighbour = await StartAsync();
        var baseline = bomb.Sandbox.ProcessIds.Count; // bubblewrap and the agent
        var running = Sh(bomb, "bomb() { bomb | bomb & }; bomb; sleep 60", TimeSpan.FromSeconds(3));

        // While it rages, the neighbour answers and the bomb's cgroup never holds more than its cap.
        var peak = 0;
        while (!running.IsCompleted)
        {
            peak = Math.Max(peak, bomb.Sandbox.ProcessIds.Count);
            var r = await Sh(neighbour, "echo alive");
            Assert.Equal("alive\n", r.Stdout);
        }
        var result = await running;
        Assert.True(result.TimedOut);
        Assert.Equal(124, result.ExitCode);
        Assert.InRange(peak, 1, Options.Pids);

        // Everything the bomb forked is gone, and the sandbox itself still works.
        await Testing.Eventually.Until(() => bomb.Sandbox.ProcessIds.Count <= baseline, Deadline, "the bomb's processes to be gone");
        Assert.Equal("ok\n", (await Sh(bomb, "echo ok")).Stdout);
    }

    [Fact]
    public async Task A_memory_bomb_is_killed_by_the_memory_limit_and_the_sandbox_keeps_working()
    {
        var s = await StartAsync();
        var neighbour = await StartAsync();
        var r = await Sh(s, "python3 -c 'a = []\nwhile True: a.append(bytearray(16 * 1024 * 1024))'", TimeSpan.FromSeconds(60));
        Assert.Equal(128 + 9, r.ExitCode); // SIGKILL from the OOM killer
        Assert.False(r.TimedOut);
        Assert.Equal("ok\n", (await Sh(s, "echo ok")).Stdout);
        Assert.Equal("ok\n", (await Sh(neighbour, "echo ok")).Stdout);
    }

    [Fact]
    public async Task Filling_the_workspace_stops_at_its_quota_and_the_file_api_reports_it_full()
    {
        var s = await StartAsync();
        var r = await Sh(s, "dd if=/dev/zero of=/workspace/filler bs=1M count=1000 2>&1; df -k /workspace | tail -1");
        Assert.Contains("No space left on device", r.Stdout);
        var full = await Assert.ThrowsAsync<Sandboxes.AgentException>(() => s.Sandbox.Agent.WriteFileAsync("/workspace/more.txt", new byte[1024 * 1024], CancellationToken.None));
        Assert.Equal(Sandboxes.AgentError.NoSpace, full.Code);
        // Room again once the filler is gone.
        await Sh(s, "rm /workspace/filler");
        Assert.Equal(5, await s.Sandbox.Agent.WriteFileAsync("/workspace/small.txt", "hello"u8.ToArray(), CancellationToken.None));
        // The host's disk never saw it: the workspace lives in the sandbox's own tmpfs.
        Assert.Empty(Directory.EnumerateFiles(DataDir.FullName, "filler", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task A_command_past_its_timeout_is_killed_with_its_children()
    {
        var s = await StartAsync();
        var r = await Sh(s, "sleep 100 & sleep 100; echo never", TimeSpan.FromMilliseconds(500));
        Assert.True(r.TimedOut);
        Assert.Equal(124, r.ExitCode);
        Assert.DoesNotContain("never", r.Stdout);
        var left = await Sh(s, "for p in /proc/[0-9]*; do cat $p/comm 2>/dev/null; done | grep -c '^sleep$' || true");
        Assert.Equal("0", left.Stdout.Trim());
    }

    [Fact]
    public async Task Cpu_is_capped_at_the_sizes_vcpus()
    {
        var s = await StartAsync(new BoxSpec { Runtime = SandboxRuntimes.Base });
        var quota = File.Exists($"/sys/fs/cgroup/cpu/{Options.CgroupParent}/{s.Sandbox.Name}/cpu.cfs_quota_us")
            ? await File.ReadAllTextAsync($"/sys/fs/cgroup/cpu/{Options.CgroupParent}/{s.Sandbox.Name}/cpu.cfs_quota_us")
            : (await File.ReadAllTextAsync($"/sys/fs/cgroup/{Options.CgroupParent}/{s.Sandbox.Name}/cpu.max")).Split(' ')[0];
        Assert.Equal(((long)(Options.Cpus * 100_000)).ToString(System.Globalization.CultureInfo.InvariantCulture), quota.Trim());
    }
}
