using System.Text;
using Boxes.Testing;
using Xunit;

namespace Boxes.Cli.Tests;

/// <summary>boxes sandboxes ... against the running platform; every test launches its own sandbox through the CLI and kills it after.</summary>
[Collection(PlatformCollection.Name)]
public sealed class SandboxCliTests(PlatformFixture platform) : IAsyncLifetime
{
    private string _id = "";

    public async Task InitializeAsync()
    {
        var launched = await platform.JsonAsync("sandboxes", "launch", "--runtime", "python", "--env", "GREETING=hello there");
        _id = launched["id"]!.GetValue<string>();
        Assert.Equal("ready", launched["status"]!.GetValue<string>());
    }

    public async Task DisposeAsync()
    {
        if (_id.Length > 0) await platform.RunAsync("sandboxes", "kill", _id);
    }

    [Fact]
    public async Task Exec_passes_stdout_and_stderr_through_and_exits_with_the_commands_code()
    {
        var result = await platform.RunAsync("sandboxes", "exec", _id, "--", "sh", "-c", "echo out; echo err >&2; exit 7");
        Assert.True(result.ExitCode == 7, result.ToString());
        Assert.Equal("out\n", result.Stdout);
        Assert.Equal("err\n", result.Stderr);
    }

    [Fact]
    public async Task Exec_gets_the_sandbox_env_its_own_env_cwd_and_stdin()
    {
        var result = await platform.RunWithStdinAsync(Encoding.UTF8.GetBytes("from stdin"),
            "sandboxes", "exec", _id, "--env", "EXTRA=x=y", "--cwd", "/tmp", "--stdin-file", "-", "--",
            "sh", "-c", "echo \"$GREETING|$EXTRA|$(pwd)|$(cat)\"");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("hello there|x=y|/tmp|from stdin\n", result.Stdout);
    }

    [Fact]
    public async Task Exec_with_json_writes_the_result_object_and_still_exits_with_the_commands_code()
    {
        var result = await platform.RunAsync("sandboxes", "exec", _id, "--json", "--", "sh", "-c", "printf hi; exit 3");
        Assert.True(result.ExitCode == 3, result.ToString());
        var json = result.Json();
        Assert.Equal("hi", json["stdout"]!.GetValue<string>());
        Assert.Equal(3, json["exitCode"]!.GetValue<int>());
    }

    [Fact]
    public async Task Run_code_runs_python_from_an_option_a_file_or_stdin_with_its_exit_code()
    {
        var inline = await platform.RunAsync("sandboxes", "run-code", _id, "--code", "print(6 * 7)");
        Assert.True(inline.ExitCode == 0, inline.ToString());
        Assert.Equal("42\n", inline.Stdout);

        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, "import sys\nprint('from a file')\nsys.exit(5)\n");
            var fromFile = await platform.RunAsync("sandboxes", "run-code", _id, "--file", file);
            Assert.True(fromFile.ExitCode == 5, fromFile.ToString());
            Assert.Equal("from a file\n", fromFile.Stdout);
        }
        finally
        {
            File.Delete(file);
        }

        var piped = await platform.RunWithStdinAsync(Encoding.UTF8.GetBytes("import sys; sys.stderr.write('to stderr')"), "sandboxes", "run-code", _id, "-");
        Assert.True(piped.ExitCode == 0, piped.ToString());
        Assert.Equal("to stderr", piped.Stderr);
    }

    [Fact]
    public async Task Fs_write_from_stdin_then_read_gives_back_the_same_bytes_and_ls_lists_the_file()
    {
        var bytes = new byte[] { 0x00, 0x01, 0xFF, 0xFE, (byte)'\n', (byte)'\r', 0x00, 0x80, (byte)'h', (byte)'i', 0xC3, 0x28 };
        var write = await platform.RunWithStdinAsync(bytes, "sandboxes", "fs", "write", _id, "/workspace/data/blob.bin", "-");
        Assert.True(write.ExitCode == 0, write.ToString());

        var read = await platform.RunAsync("sandboxes", "fs", "read", _id, "data/blob.bin");
        Assert.True(read.ExitCode == 0, read.ToString());
        Assert.Equal(bytes, read.StdoutBytes);

        var listing = await platform.JsonAsync("sandboxes", "fs", "ls", _id, "/workspace/data");
        var entry = Assert.Single(listing["entries"]!.AsArray());
        Assert.Equal("blob.bin", entry!["name"]!.GetValue<string>());
        Assert.Equal("file", entry["type"]!.GetValue<string>());
        Assert.Equal(bytes.Length, entry["size"]!.GetValue<long>());

        var human = await platform.RunAsync("sandboxes", "fs", "ls", _id, "data");
        Assert.True(human.ExitCode == 0, human.ToString());
        Assert.Contains("blob.bin", human.Stdout);
    }

    [Fact]
    public async Task Fs_write_from_a_local_file_and_read_with_json_as_base64()
    {
        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllBytesAsync(file, [1, 2, 3, 0, 4]);
            var write = await platform.JsonAsync("sandboxes", "fs", "write", _id, "copy.bin", "--from-file", file);
            Assert.Equal(5, write["size"]!.GetValue<int>());
            var read = await platform.JsonAsync("sandboxes", "fs", "read", _id, "copy.bin");
            Assert.Equal(Convert.ToBase64String([1, 2, 3, 0, 4]), read["contentBase64"]!.GetValue<string>());
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Terminal_forwards_piped_input_to_a_real_shell_and_exits_with_its_code()
    {
        // The pty echoes what is typed, so the marker is computed by the shell: only a command that ran prints "hi-from-2-terminal".
        var stdin = Encoding.UTF8.GetBytes("echo hi-from-$((1+1))-terminal; exit 3\n");
        var result = await CliRunner.RunProcessAsync(platform.Environment, stdin, TimeSpan.FromSeconds(60), "sandboxes", "terminal", _id);
        Assert.True(result.ExitCode == 3, result.ToString());
        Assert.Contains("hi-from-2-terminal", result.Stdout);
    }

    [Fact]
    public async Task Terminal_ends_the_shell_when_piped_input_ends_without_an_exit()
    {
        var stdin = Encoding.UTF8.GetBytes("echo done-$((40+2))\n");
        var result = await CliRunner.RunProcessAsync(platform.Environment, stdin, TimeSpan.FromSeconds(60), "sandboxes", "terminal", _id);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("done-42", result.Stdout);
    }

    [Fact]
    public async Task Get_ls_pause_resume_checkpoint_and_kill_print_the_api_objects()
    {
        var got = await platform.JsonAsync("sandboxes", "get", _id);
        Assert.Equal(_id, got["id"]!.GetValue<string>());
        Assert.Equal("python", got["runtime"]!.GetValue<string>());

        var listed = await platform.JsonAsync("sandboxes", "ls", "--status", "ready");
        Assert.Contains(listed["items"]!.AsArray(), s => s!["id"]!.GetValue<string>() == _id);

        Assert.Equal("paused", (await platform.JsonAsync("sandboxes", "pause", _id))["status"]!.GetValue<string>());
        var whilePaused = await platform.RunAsync("sandboxes", "exec", _id, "--json", "--", "true");
        Assert.True(whilePaused.ExitCode == 1, whilePaused.ToString());
        Assert.Equal("CONFLICT", whilePaused.Json()["error"]!["code"]!.GetValue<string>());
        Assert.Equal("ready", (await platform.JsonAsync("sandboxes", "resume", _id))["status"]!.GetValue<string>());

        var checkpoint = await platform.JsonAsync("sandboxes", "checkpoint", _id);
        Assert.True(checkpoint["ok"]!.GetValue<bool>());
        Assert.False(string.IsNullOrEmpty(checkpoint["key"]!.GetValue<string>()));

        var human = await platform.RunAsync("sandboxes", "get", _id);
        Assert.True(human.ExitCode == 0, human.ToString());
        Assert.Contains(_id, human.Stdout);

        var killed = await platform.JsonAsync("sandboxes", "kill", _id);
        Assert.Contains(killed["status"]!.GetValue<string>(), new[] { "ending", "ended" });
        await Eventually.Until(async () => (await platform.JsonAsync("sandboxes", "get", _id))["status"]!.GetValue<string>(),
            status => status == "ended", TimeSpan.FromSeconds(30), $"sandbox {_id} to end");
        _id = "";
    }

    [Fact]
    public async Task Interrupting_a_running_exec_exits_130()
    {
        using var interrupt = new CancellationTokenSource();
        var running = CliRunner.RunAsync(platform.Environment, null, interrupt.Token, "sandboxes", "exec", _id, "--", "sleep", "120");
        await Eventually.Until(async () => (await platform.RunAsync("sandboxes", "exec", _id, "--", "pgrep", "-x", "sleep")).ExitCode == 0,
            TimeSpan.FromSeconds(30), "the sleep to be running in the sandbox");
        Assert.False(running.IsCompleted);
        interrupt.Cancel();
        var result = await running;
        Assert.True(result.ExitCode == 130, result.ToString());
        Assert.Contains("interrupted", result.Stderr);
    }

    [Fact]
    public async Task An_unknown_id_is_an_api_error_exit_1_with_the_error_object()
    {
        var result = await platform.RunAsync("sandboxes", "get", Guid.NewGuid().ToString(), "--json");
        Assert.True(result.ExitCode == 1, result.ToString());
        var error = result.Json()["error"]!;
        Assert.Equal("NOT_FOUND", error["code"]!.GetValue<string>());
        Assert.Equal(404, error["status"]!.GetValue<int>());
        Assert.False(string.IsNullOrEmpty(error["message"]!.GetValue<string>()));
        Assert.Contains("NOT_FOUND", result.Stderr);
    }
}
