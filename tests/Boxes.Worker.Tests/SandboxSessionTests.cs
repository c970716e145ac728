using System.Text;
using Boxes.Contracts;
using Boxes.Testing;
using Boxes.Worker.Sandboxes;

namespace Boxes.Worker.Tests;

/// <summary>A sandbox's life on the worker: exec and run-code, the terminal, pause, checkpoints, crash and cleanup.</summary>
public sealed class SandboxSessionTests(ITestOutputHelper output) : SandboxTestBase(output)
{
    protected override int PoolSize => 1;

    [Fact]
    public async Task Exec_returns_output_exit_code_and_duration_and_honours_cwd_env_and_stdin()
    {
        var s = await StartAsync(new BoxSpec { Runtime = SandboxRuntimes.Base, Env = new Dictionary<string, string> { ["FROM_SANDBOX"] = "s", ["OVERRIDDEN"] = "sandbox" } });
        await Sh(s, "mkdir -p /workspace/sub");
        var r = await s.ExecAsync(new ExecRequest("sh", ["-c", "pwd; echo $FROM_SANDBOX $OVERRIDDEN $FROM_EXEC; cat; echo oops >&2; exit 7"], "/workspace/sub",
            new Dictionary<string, string> { ["OVERRIDDEN"] = "exec", ["FROM_EXEC"] = "e" }, "piped input", TimeSpan.FromSeconds(10)), CancellationToken.None);
        Assert.Equal("/workspace/sub\ns exec e\npiped input", r.Stdout);
        Assert.Equal("oops\n", r.Stderr);
        Assert.Equal(7, r.ExitCode);
        Assert.False(r.TimedOut);
        Assert.InRange(r.DurationMs, 0, 10_000);
    }

    [Fact]
    public async Task Exec_with_args_runs_the_program_directly_and_a_missing_one_is_reported()
    {
        var s = await StartAsync();
        var r = await s.ExecAsync(new ExecRequest("echo", ["Hello from sandbox!", "$HOME"], null, null, null, TimeSpan.FromSeconds(10)), CancellationToken.None);
        Assert.Equal("Hello from sandbox! $HOME\n", r.Stdout); // no shell: nothing expanded
        var missing = await Assert.ThrowsAsync<AgentException>(() =>
            s.ExecAsync(new ExecRequest("no-such-program", [], null, null, null, TimeSpan.FromSeconds(10)), CancellationToken.None));
        Assert.Equal(AgentError.Spawn, missing.Code);
        var badCwd = await Assert.ThrowsAsync<AgentException>(() =>
            s.ExecAsync(new ExecRequest("pwd", [], "/workspace/nope", null, null, TimeSpan.FromSeconds(10)), CancellationToken.None));
        Assert.Equal(AgentError.NotDirectory, badCwd.Code);
    }

    [Fact]
    public async Task Large_output_is_kept_up_to_the_cap_and_reported_truncated()
    {
        var s = await StartAsync();
        var r = await Sh(s, $"head -c {Options.MaxOutputBytes + 100_000} /dev/zero | tr '\\0' 'x'");
        Assert.Equal(Options.MaxOutputBytes, r.Stdout.Length);
        Assert.True(r.StdoutTruncated);
        Assert.Equal(0, r.ExitCode);
    }

    [Fact]
    public async Task Large_stdin_reaches_the_command_through_flow_control()
    {
        var s = await StartAsync();
        var input = new string('y', 5 * 1024 * 1024);
        var r = await Sh(s, "wc -c", stdin: input);
        Assert.Equal("5242880", r.Stdout.Trim());
    }

    [Theory]
    [InlineData(SandboxRuntimes.Python, "import sys\nprint(1 + 1, sys.version_info[0])", "2 3\n")]
    [InlineData(SandboxRuntimes.Base, "echo $((1 + 1)); echo base", "2\nbase\n")]
    public async Task Run_code_uses_the_sandboxs_runtime(string runtime, string code, string expected)
    {
        var s = await StartAsync(new BoxSpec { Runtime = runtime });
        var r = await s.RunCodeAsync(code, TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal(expected, r.Stdout);
        Assert.Equal(0, r.ExitCode);
        Assert.Equal("", (await Sh(s, "ls /tmp")).Stdout); // the code file is gone
    }

    [Fact]
    public async Task Run_code_with_bun_runs_typescript()
    {
        Assert.True(Host.HasBun, "bun is not installed: scripts/test.sh installs the npm package bun and sets BOXES_BUN.");
        var s = await StartAsync(new BoxSpec { Runtime = SandboxRuntimes.Bun });
        var r = await s.RunCodeAsync("const n: number = 1 + 1;\nconsole.log(n)", TimeSpan.FromSeconds(30), CancellationToken.None);
        Assert.Equal("2\n", r.Stdout);
    }

    [Fact]
    public async Task The_terminal_is_a_real_pty_that_resizes_and_interrupts_with_ctrl_c()
    {
        var s = await StartAsync();
        var shell = await s.Sandbox.Agent.StartAsync(
            new ProcessSpec(["/bin/bash", "--norc", "-i"], s.Environment(null, terminal: true), "/workspace", null, Pty: true, Cols: 100, Rows: 30),
            CancellationToken.None);
        var screen = new StringBuilder();
        var reader = Task.Run(async () =>
        {
            await foreach (var (_, data) in shell.Output.Reader.ReadAllAsync())
                lock (screen) screen.Append(Encoding.UTF8.GetString(data));
        });
        async Task Type(string keys) => await shell.WriteInputAsync(Encoding.UTF8.GetBytes(keys), CancellationToken.None);
        async Task Seen(string text)
        {
            try
            {
                await Eventually.Until(() => { lock (screen) return screen.ToString().Contains(text, StringComparison.Ordinal); }, Deadline, $"'{text}' on the terminal");
            }
            catch (TimeoutException ex)
            {
                lock (screen) throw new TimeoutException($"{ex.Message}; the terminal shows: {screen}", ex);
            }
        }

        await Type("tty; stty size\r");
        await Seen("/dev/pts/");
        await Seen("30 100");
        await shell.ResizeAsync(132, 43, CancellationToken.None);
        await Type("stty size\r");
        await Seen("43 132");
        await Type("sleep 1000; echo slept\r");
        // Ctrl-C once sleep really runs in the foreground, not while the shell is still reading the line.
        await Eventually.Until(async () => (await Sh(s, "for p in /proc/[0-9]*; do cat $p/comm 2>/dev/null; done")).Stdout.Split('\n').Contains("sleep"),
            Deadline, "sleep to run");
        await Type("\u0003"); // Ctrl-C
        await Type("echo after-interrupt $?\r");
        await Seen("after-interrupt 130");
        lock (screen) Assert.DoesNotContain("\nslept", screen.ToString()); // the command line echoes "echo slept"; its output never came
        await Type("exit 3\r");
        var exit = await shell.Exited.WaitAsync(Deadline);
        Assert.Equal(3, exit.ExitCode);
        await reader;
    }

    [Fact]
    public async Task Pausing_freezes_every_process_and_resuming_carries_on_with_memory_kept()
    {
        var s = await StartAsync();
        await Sh(s, "python3 -c 'import time\nwhile True:\n  open(\"/workspace/ticks\", \"a\").write(f\"{time.time()}\\n\"); time.sleep(0.02)' >/dev/null 2>&1 & echo $! > /workspace/ticker.pid");
        await Eventually.Until(async () => (await Sh(s, "wc -l < /workspace/ticks 2>/dev/null || echo 0")).Stdout.Trim() is not ("0" or ""), Deadline, "ticks");
        var ticker = (await Sh(s, "cat /workspace/ticker.pid")).Stdout.Trim();

        await s.PauseAsync(CancellationToken.None);
        Assert.True(s.Paused);
        Assert.True(s.Sandbox.IsFrozen);
        var pausedAt = DateTimeOffset.UtcNow;
        await Task.Delay(TimeSpan.FromMilliseconds(600)); // the pause itself is what is measured here: 0.6 s without a tick
        await s.ResumeAsync(CancellationToken.None);
        Assert.False(s.Sandbox.IsFrozen);

        await Eventually.Until(async () => (await Sh(s, "tail -1 /workspace/ticks")).Stdout.Trim() is { Length: > 0 } last
            && double.Parse(last, System.Globalization.CultureInfo.InvariantCulture) > pausedAt.ToUnixTimeMilliseconds() / 1000.0 + 0.6,
            Deadline, "ticks after the pause");
        var ticks = (await Sh(s, "cat /workspace/ticks")).Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(t => double.Parse(t, System.Globalization.CultureInfo.InvariantCulture)).ToList();
        var longestGap = ticks.Zip(ticks.Skip(1)).Max(p => p.Second - p.First);
        Assert.True(longestGap >= 0.55, $"the longest gap between ticks was {longestGap:0.000} s; the process was not frozen");
        // Same process before and after: memory kept.
        Assert.Contains("python3", (await Sh(s, $"tr '\\0' ' ' < /proc/{ticker}/cmdline")).Stdout);
    }

    [Fact]
    public async Task A_checkpoint_archives_the_workspace_and_a_new_sandbox_starts_from_it()
    {
        var s = await StartAsync();
        await Sh(s, "mkdir -p /workspace/src && echo 'print(21 * 2)' > /workspace/src/main.py && echo note > /workspace/README");
        var saved = await s.CheckpointAsync(Checkpoints, DataDir.FullName, CancellationToken.None);
        Assert.Equal(ArtifactKinds.Checkpoint, saved.Kind);
        Assert.True(saved.SizeBytes > 0);
        Assert.Empty(Directory.EnumerateFiles(DataDir.FullName, "checkpoint-*")); // the temp archive is gone

        var restored = await StartAsync(new BoxSpec { Runtime = SandboxRuntimes.Python, FromCheckpoint = saved.ArtifactId });
        var r = await Sh(restored, "python3 /workspace/src/main.py; cat /workspace/README; stat -c %u /workspace/src/main.py");
        Assert.Equal("42\nnote\n1000\n", r.Stdout);
    }

    [Fact]
    public async Task A_checkpoint_of_another_organisation_is_not_found()
    {
        var s = await StartAsync();
        var saved = await s.CheckpointAsync(Checkpoints, DataDir.FullName, CancellationToken.None);
        var foreign = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            Sessions.StartAsync(Guid.NewGuid(), Guid.NewGuid(), new BoxSpec { Runtime = SandboxRuntimes.Base, FromCheckpoint = saved.ArtifactId }, CancellationToken.None));
        Assert.Contains("was not found", foreign.Message);
    }

    [Fact]
    public async Task Stopping_leaves_no_process_cgroup_or_uid_and_keeps_a_non_ephemeral_workspace()
    {
        var ephemeral = await StartAsync();
        var kept = await StartAsync(new BoxSpec { Runtime = SandboxRuntimes.Base, Ephemeral = false });
        await Sh(kept, "echo keep me > /workspace/data.txt; sleep 1000 >/dev/null 2>&1 &");
        await Sh(ephemeral, "sleep 1000 >/dev/null 2>&1 &");
        var sandboxes = new[] { ephemeral.Sandbox, kept.Sandbox };
        // bubblewrap, the agent and the background sleep of each: all must go.
        var processes = sandboxes.SelectMany(s => SandboxProcessesOnHost(s.Uid)).ToList();
        Assert.True(processes.Count >= 6, $"expected at least 3 processes per sandbox, found {processes.Count}");

        Assert.True(await Sessions.StopAsync(ephemeral.BoxId));
        Assert.True(await Sessions.StopAsync(kept.BoxId));
        Assert.False(await Sessions.StopAsync(kept.BoxId)); // idempotent

        foreach (var sandbox in sandboxes)
        {
            Assert.True(sandbox.Exited.IsCompleted);
            Assert.False(Host.Cgroups!.Exists(sandbox.Name));
            Assert.False(Directory.Exists($"/proc/{sandbox.Pid}"));
        }
        var left = processes.Where(pid => Directory.Exists($"/proc/{pid}")).ToList();
        Assert.True(left.Count == 0, "left: " + string.Join("; ", left.Select(pid => { try { return File.ReadAllText($"/proc/{pid}/stat"); } catch (IOException) { return "gone"; } })));
        // The non-ephemeral one's workspace outlived it as a checkpoint.
        var (boxId, _, archive) = Assert.Single(Checkpoints.Saved.Values);
        Assert.Equal(kept.BoxId, boxId);
        var restored = await StartAsync(new BoxSpec { Runtime = SandboxRuntimes.Base, FromCheckpoint = Checkpoints.Saved.Keys.Single() });
        Assert.Equal("keep me\n", (await Sh(restored, "cat /workspace/data.txt")).Stdout);
        Assert.True(archive.Length > 0);
    }

    [Fact]
    public async Task A_killed_sandbox_is_reported_as_crashed_and_cleaned_up()
    {
        var crashes = new List<(Guid, string)>();
        Sessions.OnCrashed = (id, reason) => { lock (crashes) crashes.Add((id, reason)); return Task.CompletedTask; };
        var s = await StartAsync();
        System.Diagnostics.Process.GetProcessById(s.Sandbox.Pid).Kill();
        await Eventually.Until(() => { lock (crashes) return crashes.Count > 0; }, Deadline, "the crash report");
        var (id, reason) = Assert.Single(crashes);
        Assert.Equal(s.BoxId, id);
        Assert.Contains("ended unexpectedly", reason);
        Assert.False(Host.Cgroups!.Exists(s.Sandbox.Name));
        Assert.False(Sessions.TryGet(s.BoxId, out _));
    }

    [Fact]
    public async Task Concurrent_execs_in_one_sandbox_each_get_their_own_output()
    {
        var s = await StartAsync();
        var runs = Enumerable.Range(0, 20).Select(i => Sh(s, $"sleep 0.0{i % 5}; echo run-{i}")).ToArray();
        var results = await Task.WhenAll(runs);
        for (var i = 0; i < results.Length; i++) Assert.Equal($"run-{i}\n", results[i].Stdout);
    }
}
