using Boxes.Contracts;

namespace Boxes.Worker.Tests;

/// <summary>The isolation list of the sandbox issue, each checked from inside a real sandbox.</summary>
public sealed class SandboxIsolationTests(ITestOutputHelper output) : SandboxTestBase(output)
{
    [Fact]
    public async Task Commands_run_as_an_unprivileged_user_with_no_capabilities()
    {
        var s = await StartAsync();
        var r = await Sh(s, "id -u; grep -E '^Cap(Eff|Prm|Bnd|Amb):' /proc/self/status; grep NoNewPrivs /proc/self/status");
        Assert.Equal(0, r.ExitCode);
        var lines = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("1000", lines[0]);
        Assert.All(lines.Where(l => l.StartsWith("Cap", StringComparison.Ordinal)), l => Assert.EndsWith("0000000000000000", l));
        Assert.Contains("NoNewPrivs:\t1", r.Stdout);
        // And on the host the sandbox is its own unprivileged uid, not root.
        Assert.InRange(s.Sandbox.Uid, Options.UidBase, Options.UidBase + Options.MaxSandboxes - 1);
        Assert.Contains($"Uid:\t{s.Sandbox.Uid}", await File.ReadAllTextAsync($"/proc/{s.Sandbox.Pid}/status"));
    }

    [Fact]
    public async Task Only_loopback_exists_and_the_hosts_servers_cannot_be_reached()
    {
        var s = await StartAsync();
        var r = await Sh(s, "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
        Assert.Equal("lo", r.Stdout.Trim());
        // PostgreSQL and RabbitMQ listen on the host's 127.0.0.1; the sandbox's loopback is its own.
        foreach (var port in new[] { 5432, 5672, 15672, 8080 })
        {
            var probe = await Sh(s, $"exec 3<>/dev/tcp/127.0.0.1/{port} && echo connected", TimeSpan.FromSeconds(10));
            Assert.NotEqual(0, probe.ExitCode);
            Assert.DoesNotContain("connected", probe.Stdout);
        }
        var outside = await Sh(s, "exec 3<>/dev/tcp/10.0.2.2/5432 && echo connected", TimeSpan.FromSeconds(10));
        Assert.DoesNotContain("connected", outside.Stdout);
    }

    [Fact]
    public async Task Internet_mode_routes_public_addresses_through_slirp_and_fences_off_the_host_and_private_ranges()
    {
        Assert.True(Host.HasNetworking, "slirp4netns, ip or nsenter is missing: scripts/test.sh installs slirp4netns and iproute2.");
        var s = await StartAsync(new BoxSpec { Runtime = SandboxRuntimes.Base, Network = SandboxNetworks.Internet });
        var r = await Sh(s, """
            echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ')"
            for ip in 1.1.1.1 93.184.216.34 10.1.2.3 172.16.5.5 192.168.1.1 169.254.169.254 100.64.0.1 127.1.2.3 224.0.0.1; do
              echo "$ip: $(ip route get $ip 2>&1 | head -1)"
            done
            for target in 10.0.2.2/5432 10.0.2.2/8080 127.0.0.1/5432 169.254.169.254/80; do
              (exec 3<>/dev/tcp/${target%/*}/${target#*/}) 2>/dev/null && echo "reached $target" || echo "refused $target"
            done
            """, TimeSpan.FromSeconds(30));
        Output.WriteLine(r.Stdout);
        Assert.Contains("ifaces=lo tap0 ", r.Stdout);
        Assert.Contains("1.1.1.1: 1.1.1.1 via 10.0.2.2 dev tap0", r.Stdout);
        Assert.Contains("93.184.216.34: 93.184.216.34 via 10.0.2.2 dev tap0", r.Stdout);
        foreach (var fenced in new[] { "10.1.2.3", "172.16.5.5", "192.168.1.1", "169.254.169.254", "100.64.0.1", "224.0.0.1" })
            Assert.Contains($"{fenced}: RTNETLINK answers: No route to host", r.Stdout); // an "unreachable" route
        Assert.DoesNotContain("reached", r.Stdout);
        Assert.True(s.Sandbox.HasNetwork);
        // And the sandbox cannot change its own routes.
        Assert.Contains("Operation not permitted", (await Sh(s, "ip route del unreachable 10.0.0.0/8 2>&1")).Stdout);
    }

    [Fact]
    public async Task No_process_of_the_host_or_of_another_sandbox_is_visible()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        await Sh(b, "sleep 300 >/dev/null 2>&1 &");
        var r = await Sh(a, "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline; echo; done");
        var commands = r.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // The agent (the namespace's init) and the shell listing them: nothing else.
        Assert.InRange(commands.Length, 2, 5);
        Assert.DoesNotContain(commands, c => c.Contains("dotnet", StringComparison.Ordinal) || c.Contains("sleep 300", StringComparison.Ordinal)
                                             || c.Contains("postgres", StringComparison.Ordinal) || c.Contains("chromium", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_host_file_cannot_be_read_and_tmp_is_private()
    {
        var secret = Path.Combine(Path.GetTempPath(), $"boxes-secret-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(secret, "host secret");
        try
        {
            var s = await StartAsync();
            var r = await Sh(s, $"cat {secret}; ls /tmp; cat /etc/shadow; ls /root; cat /proc/1/environ | tr '\\0' '\\n' | grep -c BOXES_TEST || true");
            Assert.DoesNotContain("host secret", r.Stdout);
            Assert.DoesNotContain(Path.GetFileName(secret), r.Stdout);
            Assert.Contains("No such file", r.Stderr);
        }
        finally
        {
            File.Delete(secret);
        }
    }

    [Fact]
    public async Task The_environment_is_cleared_to_the_sandboxs_own()
    {
        var s = await StartAsync(new BoxSpec { Runtime = SandboxRuntimes.Base, Env = new Dictionary<string, string> { ["GREETING"] = "hello" } });
        var r = await Sh(s, "env");
        Assert.Contains("GREETING=hello", r.Stdout);
        Assert.Contains("HOME=/workspace", r.Stdout);
        Assert.DoesNotContain("BOXES_TEST_PG", r.Stdout);
        Assert.DoesNotContain("DOTNET", r.Stdout);
    }

    [Fact]
    public async Task System_folders_are_read_only_and_dev_is_minimal()
    {
        var s = await StartAsync();
        var r = await Sh(s, "touch /usr/evil; touch /etc/evil; touch /bin/evil; ls /dev | tr '\\n' ' '; echo; touch /workspace/ok && touch /tmp/ok && echo writable");
        Assert.Contains("Read-only file system", r.Stderr);
        Assert.Contains("writable", r.Stdout);
        var devices = r.Stdout.Split('\n')[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        Assert.DoesNotContain("sda", devices);
        Assert.DoesNotContain("vda", devices);
        Assert.DoesNotContain("mem", devices);
        Assert.Contains("null", devices);
        Assert.Contains("pts", devices);
    }

    [Fact]
    public async Task Another_sandboxs_workspace_cannot_be_reached()
    {
        var a = await StartAsync();
        var b = await StartAsync();
        await Sh(a, "echo only-in-a > /workspace/mine.txt");
        var r = await Sh(b, "ls -a /workspace; cat /workspace/mine.txt; find / -xdev -name mine.txt 2>/dev/null; echo done");
        Assert.DoesNotContain("only-in-a", r.Stdout);
        Assert.DoesNotContain("mine.txt", r.Stdout);
        Assert.Contains("done", r.Stdout);
    }

    [Fact]
    public async Task The_seccomp_filter_refuses_namespaces_keyrings_and_tracing()
    {
        var s = await StartAsync();
        var r = await Sh(s, """
            unshare -U true; echo "unshare=$?"
            unshare -n true; echo "unshare-net=$?"
            python3 -c 'import ctypes; libc = ctypes.CDLL(None); print("keyctl", libc.syscall(250, 0, 0, 0, 0, 0)); print("ptrace", libc.syscall(101, 16, 1, 0, 0)); print("bpf", libc.syscall(321, 0, 0, 0))'
            """);
        Assert.Contains("unshare=1", r.Stdout);
        Assert.Contains("unshare-net=1", r.Stdout);
        Assert.Contains("keyctl -1", r.Stdout);
        Assert.Contains("ptrace -1", r.Stdout);
        Assert.Contains("bpf -1", r.Stdout);
    }

    [Fact]
    public async Task The_agent_cannot_be_reached_through_proc_by_the_commands_it_runs()
    {
        var s = await StartAsync();
        // The agent is the sandbox's init (pid 1). It is not dumpable: its fds and memory are off limits; and as
        // an init it ignores the signals its own namespace sends it.
        var r = await Sh(s, "ls -l /proc/1/fd/ 2>&1; cat /proc/1/environ 2>&1 | head -c 100; echo; head -c 10 /proc/1/mem 2>&1; kill -9 1; kill -TERM 1; echo end");
        Assert.Contains("Permission denied", r.Stdout);
        Assert.DoesNotContain("pipe:", r.Stdout);
        Assert.Equal(0, (await Sh(s, "echo still fine")).ExitCode);
    }
}
