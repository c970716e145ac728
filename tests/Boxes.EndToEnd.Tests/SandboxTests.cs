using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Testing;
using Xunit;

namespace Boxes.EndToEnd.Tests;

/// <summary>Code sandboxes through the public API against the services scripts/up.sh started: real bubblewrap, cgroups, agent.</summary>
public sealed class SandboxTests
{
    private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(30);
    private readonly Platform _platform = new();

    private static async Task<string> Create(HttpClient http, object? config = null)
    {
        var res = await http.PostAsJsonAsync("/v1/sandboxes", config ?? new { runtime = "base" });
        Assert.Equal(HttpStatusCode.Accepted, res.StatusCode);
        var created = await Platform.ReadJson(res);
        Assert.Equal("queued", Platform.Status(created));
        return created["id"]!.GetValue<string>();
    }

    private static async Task<JsonObject> Exec(HttpClient http, string id, object body)
    {
        var res = await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", body);
        var json = await Platform.ReadJson(res);
        Assert.True(res.IsSuccessStatusCode, $"exec answered {(int)res.StatusCode}: {json.ToJsonString()}");
        return json;
    }

    private static async Task<string> Sh(HttpClient http, string id, string script) =>
        (await Exec(http, id, new { command = script }))["stdout"]!.GetValue<string>();

    private async Task<JsonObject?> OnWorker(string id)
    {
        using var worker = new HttpClient { BaseAddress = _platform.WorkerUrl };
        var res = await worker.GetAsync($"/boxes/{id}");
        return res.StatusCode == HttpStatusCode.NotFound ? null : await Platform.ReadJson(res);
    }

    private async Task Delete(HttpClient http, string id)
    {
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"/v1/sandboxes/{id}")).StatusCode);
        await Platform.WaitForStatus(http, "sandboxes", id, s => s is "ended" or "failed", ReadyWithin);
    }

    [Fact]
    public async Task A_sandbox_runs_the_first_exec_straight_after_create_and_deleting_it_leaves_nothing_on_the_worker()
    {
        using var http = _platform.Client();
        var id = await Create(http, new { runtime = "python", env = new Dictionary<string, string> { ["GREETING"] = "hi" } });
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/v1/sandboxes/{id}")).StatusCode); // read-your-writes

        // The SDK execs right after create: the API waits for ready instead of refusing.
        var r = await Exec(http, id, new { command = "echo", args = new[] { "Hello from sandbox!" } });
        Assert.Equal("Hello from sandbox!\n", r["stdout"]!.GetValue<string>());
        Assert.Equal(0, r["exitCode"]!.GetValue<int>());
        Assert.True(r["durationMs"]!.GetValue<long>() >= 0);
        Assert.Equal("hi\n", await Sh(http, id, "echo $GREETING"));

        var ready = await Platform.ReadJson(await http.GetAsync($"/v1/sandboxes/{id}"));
        Assert.Equal("ready", Platform.Status(ready));
        Assert.StartsWith("ws://", ready["terminalUrl"]!.GetValue<string>());
        var onWorker = await OnWorker(id) ?? throw new InvalidOperationException("the worker does not run the sandbox");
        var pid = onWorker["pid"]!.GetValue<int>();
        var cgroup = onWorker["cgroup"]!.GetValue<string>();
        Assert.True(Directory.Exists($"/proc/{pid}"));

        await Delete(http, id);
        var ended = await Platform.ReadJson(await http.GetAsync($"/v1/sandboxes/{id}"));
        Assert.Equal("ended", Platform.Status(ended));
        Assert.Equal("closed_by_owner", ended["endReason"]!.GetValue<string>());
        Assert.Null(await OnWorker(id));
        Assert.False(Directory.Exists($"/proc/{pid}"));
        Assert.False(Directory.Exists($"/sys/fs/cgroup/pids/boxes/{cgroup}") || Directory.Exists($"/sys/fs/cgroup/boxes/{cgroup}"));
        var conflict = await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "true" });
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
    }

    [Fact]
    public async Task Exec_honours_cwd_env_stdin_and_kills_a_runaway_command_at_its_timeout()
    {
        using var http = _platform.Client();
        var id = await Create(http);
        await Sh(http, id, "mkdir -p /workspace/sub");
        var r = await Exec(http, id, new { command = "pwd; echo $FOO; cat; exit 3", cwd = "/workspace/sub", env = new Dictionary<string, string> { ["FOO"] = "bar" }, stdin = "in" });
        Assert.Equal("/workspace/sub\nbar\nin", r["stdout"]!.GetValue<string>());
        Assert.Equal(3, r["exitCode"]!.GetValue<int>());

        var slow = await Exec(http, id, new { command = "sleep 30", timeoutMs = 300 });
        Assert.True(slow["timedOut"]!.GetValue<bool>());
        Assert.Equal(124, slow["exitCode"]!.GetValue<int>());
        Assert.InRange(slow["durationMs"]!.GetValue<long>(), 250, 5000);
        await Delete(http, id);
    }

    [Theory]
    [InlineData("python", "import json\nprint(json.dumps({'sum': 1 + 1}))", "{\"sum\": 2}\n")]
    [InlineData("bun", "const n: number = 1 + 1\nconsole.log(n)", "2\n")]
    [InlineData("base", "echo $((6 * 7))", "42\n")]
    public async Task Run_code_runs_with_the_sandboxs_runtime(string runtime, string code, string expected)
    {
        using var http = _platform.Client();
        var id = await Create(http, new { runtime });
        var res = await http.PostAsJsonAsync($"/v1/sandboxes/{id}/run-code", new { code });
        var r = await Platform.ReadJson(res);
        Assert.True(res.IsSuccessStatusCode, r.ToJsonString());
        Assert.Equal(expected, r["stdout"]!.GetValue<string>());
        await Delete(http, id);
    }

    [Fact]
    public async Task Files_are_written_read_and_listed_and_the_file_api_never_leaves_the_workspace()
    {
        using var http = _platform.Client();
        var id = await Create(http);
        var write = await http.PutAsync($"/v1/sandboxes/{id}/fs/write?path=/workspace/app/hello.txt", new StringContent("Hello!"));
        Assert.True(write.IsSuccessStatusCode, await write.Content.ReadAsStringAsync());
        Assert.Equal("Hello!", await http.GetStringAsync($"/v1/sandboxes/{id}/fs/read?path=/workspace/app/hello.txt"));
        var list = await Platform.ReadJson(await http.GetAsync($"/v1/sandboxes/{id}/fs/list?path=/workspace/app"));
        var entry = Assert.Single(list["entries"]!.AsArray())!;
        Assert.Equal("hello.txt", entry["name"]!.GetValue<string>());
        Assert.Equal("file", entry["type"]!.GetValue<string>());
        Assert.Equal(6, entry["size"]!.GetValue<long>());

        await Sh(http, id, "ln -s /etc/passwd /workspace/out; ln -s / /workspace/root; echo x > /workspace/orig; ln /workspace/orig /workspace/hard; mkfifo /workspace/fifo");
        foreach (var path in new[]
        {
            "/workspace/../etc/passwd", "/workspace/%2e%2e/etc/passwd", "/workspace/%2E%2E%2Fetc%2Fpasswd", "..%2f..%2fetc%2fpasswd",
            "/etc/passwd", "/proc/self/environ", "/workspace/out", "/workspace/root/etc/passwd", "/workspace/hard", "/workspace/fifo", "/dev/zero",
        })
        {
            var res = await http.GetAsync($"/v1/sandboxes/{id}/fs/read?path={path}");
            Assert.True(res.StatusCode == HttpStatusCode.BadRequest, $"{path}: {(int)res.StatusCode} {await res.Content.ReadAsStringAsync()}");
            var error = await Platform.ReadJson(res);
            Assert.Equal("VALIDATION_FAILED", error["error"]!["code"]!.GetValue<string>());
        }
        // A double-encoded ".." is just a strange file name inside the workspace: not found, not outside.
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/sandboxes/{id}/fs/read?path=/workspace/%252e%252e/etc/passwd")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PutAsync($"/v1/sandboxes/{id}/fs/write?path=/workspace/root/tmp/evil", new StringContent("x"))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PutAsync($"/v1/sandboxes/{id}/fs/write?path=/etc/evil", new StringContent("x"))).StatusCode);
        await Delete(http, id);
    }

    [Fact]
    public async Task The_terminal_is_an_interactive_pty_over_a_websocket_that_resizes_and_takes_ctrl_c()
    {
        using var http = _platform.Client();
        var id = await Create(http);
        await Platform.WaitForStatus(http, "sandboxes", id, s => s == "ready", ReadyWithin);
        var terminal = await Platform.ReadJson(await http.GetAsync($"/v1/sandboxes/{id}/terminal"));
        var url = terminal["terminalUrl"]!.GetValue<string>();
        Assert.DoesNotContain(_platform.ApiKey, url);

        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri(url), CancellationToken.None); // as a plain `new WebSocket(terminalUrl)` would
        var screen = new StringBuilder();
        var exitMessage = new TaskCompletionSource<string>();
        var reader = Task.Run(async () =>
        {
            var buffer = new byte[65536];
            while (true)
            {
                var r = await ws.ReceiveAsync(buffer, CancellationToken.None);
                if (r.MessageType == WebSocketMessageType.Close) return;
                var text = Encoding.UTF8.GetString(buffer, 0, r.Count);
                if (r.MessageType == WebSocketMessageType.Text) exitMessage.TrySetResult(text);
                else lock (screen) screen.Append(text);
            }
        });
        Task Send(string keys) => ws.SendAsync(Encoding.UTF8.GetBytes(keys), WebSocketMessageType.Binary, true, CancellationToken.None);
        async Task Seen(string text)
        {
            try
            {
                await Eventually.Until(() => { lock (screen) return screen.ToString().Contains(text, StringComparison.Ordinal); },
                    TimeSpan.FromSeconds(15), $"'{text}' on the terminal");
            }
            catch (TimeoutException ex)
            {
                lock (screen) throw new TimeoutException($"{ex.Message}; the terminal shows: {screen}", ex);
            }
        }

        await Send("tty; echo term=$TERM\r");
        await Seen("/dev/pts/");
        await Seen("term=xterm-256color");
        await ws.SendAsync("""{"type":"resize","cols":132,"rows":43}"""u8.ToArray(), WebSocketMessageType.Text, true, CancellationToken.None);
        await Send("stty size\r");
        await Seen("43 132");
        await Send("sleep 1000\r");
        // Ctrl-C once sleep really runs in the foreground, not while the shell is still reading the line.
        await Eventually.Until(async () => (await Sh(http, id, "for p in /proc/[0-9]*; do cat $p/comm 2>/dev/null; done")).Split('\n').Contains("sleep"),
            TimeSpan.FromSeconds(15), "sleep to run");
        await Send("\u0003");
        await Send("echo status=$?\r");
        await Seen("status=130");
        await Send("exit 5\r");
        await Seen("exit 5\r\n");
        var exit = JsonNode.Parse(await exitMessage.Task.WaitAsync(TimeSpan.FromSeconds(15)))!;
        Assert.Equal("exit", exit["type"]!.GetValue<string>());
        Assert.Equal(5, exit["exitCode"]!.GetValue<int>());
        await reader.WaitAsync(TimeSpan.FromSeconds(15));
        await Delete(http, id);
    }

    [Fact]
    public async Task Pausing_freezes_the_sandbox_refuses_work_and_resuming_keeps_its_processes()
    {
        using var http = _platform.Client();
        var id = await Create(http);
        await Sh(http, id, "sleep 1000 >/dev/null 2>&1 & echo $! > /workspace/pid");
        var pid = (await Sh(http, id, "cat /workspace/pid")).Trim();

        var paused = await Platform.ReadJson(await http.PostAsync($"/v1/sandboxes/{id}/pause", null));
        Assert.Equal("paused", Platform.Status(paused));
        Assert.NotNull(paused["pausedAt"]);
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "true" })).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync($"/v1/sandboxes/{id}/pause", null)).StatusCode);
        Assert.True((await OnWorker(id))!["paused"]!.GetValue<bool>());

        var resumed = await Platform.ReadJson(await http.PostAsync($"/v1/sandboxes/{id}/resume", null));
        Assert.Equal("ready", Platform.Status(resumed));
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync($"/v1/sandboxes/{id}/resume", null)).StatusCode);
        Assert.Equal("sleep", (await Sh(http, id, $"cat /proc/{pid}/comm")).Trim()); // the same process, memory kept
        await Delete(http, id);
    }

    [Fact]
    public async Task A_checkpoint_is_an_artifact_that_downloads_and_a_new_sandbox_starts_from()
    {
        using var http = _platform.Client();
        var id = await Create(http, new { runtime = "python" });
        await Sh(http, id, "mkdir -p /workspace/src && echo 'print(6 * 7)' > /workspace/src/main.py");
        var res = await http.PostAsync($"/v1/sandboxes/{id}/checkpoint", null);
        var checkpoint = await Platform.ReadJson(res);
        Assert.True(res.IsSuccessStatusCode, checkpoint.ToJsonString());
        Assert.True(checkpoint["ok"]!.GetValue<bool>());
        var key = checkpoint["key"]!.GetValue<string>();
        Assert.Equal(key, checkpoint["artifacts"]!["checkpointKey"]!.GetValue<string>());

        var link = await Platform.ReadJson(await http.GetAsync($"/v1/sandboxes/{id}/artifacts/{key}/download-url"));
        using var anonymous = new HttpClient();
        var download = await anonymous.GetAsync(link["url"]!.GetValue<string>()); // a signed URL: no API key
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition?.DispositionType);
        await using (var gzip = new GZipStream(await download.Content.ReadAsStreamAsync(), CompressionMode.Decompress))
        using (var tar = new MemoryStream())
        {
            await gzip.CopyToAsync(tar);
            Assert.Contains("print(6 * 7)", Encoding.UTF8.GetString(tar.ToArray()));
        }

        var restored = await Create(http, new { runtime = "python", fromCheckpoint = key });
        Assert.Equal("42\n", await Sh(http, restored, "python3 /workspace/src/main.py"));
        await Delete(http, id);
        await Delete(http, restored);
    }

    [Fact]
    public async Task A_non_ephemeral_sandbox_keeps_its_workspace_as_a_checkpoint_after_it_ends()
    {
        using var http = _platform.Client();
        var id = await Create(http, new { runtime = "base", ephemeral = false });
        await Sh(http, id, "echo kept > /workspace/notes.txt");
        await Delete(http, id);
        var artifacts = await Eventually.Until(
            async () => await Platform.ReadJson(await http.GetAsync($"/v1/sandboxes/{id}/artifacts")),
            a => a["artifacts"]!["checkpointKey"] is not null, ReadyWithin, "the final checkpoint");
        var key = artifacts["artifacts"]!["checkpointKey"]!.GetValue<string>();
        var again = await Create(http, new { runtime = "base", fromCheckpoint = key });
        Assert.Equal("kept\n", await Sh(http, again, "cat /workspace/notes.txt"));
        await Delete(http, again);
    }

    [Fact]
    public async Task A_sandbox_past_its_max_duration_ends_and_leaves_nothing_behind()
    {
        using var http = _platform.Client();
        var id = await Create(http, new { runtime = "base", maxDurationMs = 1500 });
        await Sh(http, id, "sleep 1000 >/dev/null 2>&1 &");
        var pid = (await OnWorker(id))!["pid"]!.GetValue<int>();
        var ended = await Platform.WaitForStatus(http, "sandboxes", id, s => s is "ended" or "failed", ReadyWithin);
        Assert.Equal("ended", Platform.Status(ended));
        Assert.Equal("max_duration_reached", ended["endReason"]!.GetValue<string>());
        await Eventually.Until(async () => await OnWorker(id) is null && !Directory.Exists($"/proc/{pid}"), ReadyWithin, "the sandbox to be gone from the worker");
    }

    [Fact]
    public async Task Inside_a_sandbox_there_are_no_capabilities_no_network_no_host_files_and_no_other_sandbox()
    {
        using var http = _platform.Client();
        var secret = Path.Combine(Path.GetTempPath(), $"boxes-e2e-secret-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(secret, "host secret");
        try
        {
            var a = await Create(http);
            var b = await Create(http);
            await Sh(http, b, "echo b-only > /workspace/b.txt");
            var report = await Sh(http, a, $$"""
                grep CapEff /proc/self/status
                echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | tr '\n' ' ')"
                for port in 5432 5672 8080 8085; do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && echo "reached $port"; done
                cat {{secret}} 2>/dev/null || echo "no host file"
                ls /workspace; find / -xdev -name b.txt 2>/dev/null
                echo "processes=$(ls -d /proc/[0-9]* | wc -l)"
                """);
            Assert.Contains("CapEff:\t0000000000000000", report);
            Assert.Contains("ifaces=lo \n", report);
            Assert.DoesNotContain("reached", report);
            Assert.Contains("no host file", report);
            Assert.DoesNotContain("b.txt", report);
            Assert.DoesNotContain("host secret", report);
            await Delete(http, a);
            await Delete(http, b);
        }
        finally
        {
            File.Delete(secret);
        }
    }

    [Fact]
    public async Task A_fork_bomb_and_a_disk_filler_are_contained_and_the_neighbours_keep_working()
    {
        using var http = _platform.Client();
        var bomb = await Create(http);
        var neighbour = await Create(http);
        await Sh(http, neighbour, "true");
        var fork = Exec(http, bomb, new { command = "bomb() { bomb | bomb & }; bomb; sleep 60", timeoutMs = 3000 });
        while (!fork.IsCompleted) Assert.Equal("alive\n", await Sh(http, neighbour, "echo alive"));
        Assert.True((await fork)["timedOut"]!.GetValue<bool>());
        Assert.Equal("ok\n", await Sh(http, bomb, "echo ok"));

        var fill = await Sh(http, bomb, "dd if=/dev/zero of=/workspace/filler bs=1M count=4000 2>&1; rm /workspace/filler; echo cleaned");
        Assert.Contains("No space left on device", fill);
        Assert.Contains("cleaned", fill);
        Assert.Equal("alive\n", await Sh(http, neighbour, "echo alive"));
        await Delete(http, bomb);
        await Delete(http, neighbour);
    }

    [Fact]
    public async Task Network_access_is_off_by_default_and_internet_mode_fences_off_the_host_and_private_ranges()
    {
        using var http = _platform.Client();
        var id = await Create(http, new { runtime = "base", capabilities = new { network = "internet" } });
        var report = await Sh(http, id, """
            echo "ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\n' ' ')"
            for target in 10.0.2.2/8080 127.0.0.1/5432 10.1.2.3/80 192.168.1.1/80 172.16.0.1/80 169.254.169.254/80 100.64.0.1/80; do
              (exec 3<>/dev/tcp/${target%/*}/${target#*/}) 2>/dev/null && echo "reached $target" || echo "refused $target"
            done
            cat /etc/resolv.conf
            """);
        Assert.Contains("ifaces=lo tap0 ", report);
        Assert.DoesNotContain("reached", report);
        Assert.Contains("refused 169.254.169.254/80", report);
        Assert.Contains("nameserver 10.0.2.3", report);
        Assert.True((await OnWorker(id))!["network"]!.GetValue<bool>());
        await Delete(http, id);
    }

    [Fact]
    public async Task Another_organisations_key_finds_no_sandbox_and_bad_input_changes_nothing()
    {
        using var http = _platform.Client();
        var id = await Create(http);
        var (_, otherKey) = await _platform.CreateOrganizationAsync();
        using var other = _platform.Client(otherKey);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/sandboxes/{id}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "id" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/sandboxes/{id}/fs/read?path=/workspace/x")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/sandboxes/{id}/terminal")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.DeleteAsync($"/v1/sandboxes/{id}")).StatusCode);

        foreach (var body in new[] { "{", "[]", """{"runtime":"cobol"}""", """{"size":"huge"}""", """{"env":{"1BAD":"x"}}""", """{"capabilities":{"network":"lan"}}""" })
        {
            var res = await http.PostAsync("/v1/sandboxes", new StringContent(body, Encoding.UTF8, "application/json"));
            Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        }
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "" })).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "x", timeoutMs = -1 })).StatusCode);
        // None of it touched the sandbox: it becomes ready and works as if nothing happened.
        Assert.Equal("ready", Platform.Status(await Platform.WaitForStatus(http, "sandboxes", id, s => s is not ("queued" or "scheduling" or "starting"), ReadyWithin)));
        Assert.Equal("fine\n", await Sh(http, id, "echo fine"));
        await Delete(http, id);
    }
}
