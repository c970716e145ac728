using System.Text;
using Boxes.Worker.Sandboxes;

namespace Boxes.Worker.Tests;

/// <summary>The file API stays inside /workspace whatever the path, link or file type says, resolved inside the sandbox.</summary>
public sealed class SandboxFileTests(ITestOutputHelper output) : SandboxTestBase(output)
{
    private static async Task<AgentError> Refused(Task call) => (await Assert.ThrowsAsync<AgentException>(() => call)).Code;

    [Fact]
    public async Task Files_are_written_with_their_folders_read_back_and_listed()
    {
        var s = await StartAsync();
        var agent = s.Sandbox.Agent;
        Assert.Equal(6, await agent.WriteFileAsync("/workspace/a/b/hello.txt", "Hello!"u8.ToArray(), CancellationToken.None));
        Assert.Equal("Hello!", Encoding.UTF8.GetString(await agent.ReadFileAsync("/workspace/a/b/hello.txt", 1024, CancellationToken.None)));
        Assert.Equal("Hello!", Encoding.UTF8.GetString(await agent.ReadFileAsync("a/./b/../b/hello.txt", 1024, CancellationToken.None)));
        // Overwriting truncates.
        await agent.WriteFileAsync("/workspace/a/b/hello.txt", "Hi"u8.ToArray(), CancellationToken.None);
        Assert.Equal("Hi", Encoding.UTF8.GetString(await agent.ReadFileAsync("/workspace/a/b/hello.txt", 1024, CancellationToken.None)));
        await Sh(s, "ln -s /etc/passwd /workspace/a/link; mkfifo /workspace/a/pipe");
        var entries = await agent.ListAsync("/workspace/a", CancellationToken.None);
        Assert.Equal(FileEntryType.Directory, entries.Single(e => e.Name == "b").Type);
        Assert.Equal(FileEntryType.Symlink, entries.Single(e => e.Name == "link").Type);
        Assert.Equal(FileEntryType.Other, entries.Single(e => e.Name == "pipe").Type);
        Assert.Equal(2, (await agent.ListAsync("/workspace/a/b", CancellationToken.None)).Single().Size);
        // And the sandbox's own commands see what the API wrote, as the sandbox user.
        Assert.Equal("Hi 1000", (await Sh(s, "printf '%s %s' \"$(cat /workspace/a/b/hello.txt)\" \"$(stat -c %u /workspace/a/b/hello.txt)\"")).Stdout);
    }

    [Theory]
    [InlineData("/workspace/../etc/passwd")]
    [InlineData("../etc/passwd")]
    [InlineData("/workspace/a/../../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("/proc/self/environ")]
    [InlineData("/workspacex/file")]
    [InlineData("/")]
    public async Task Paths_outside_the_workspace_are_refused(string path)
    {
        var s = await StartAsync();
        Assert.Equal(AgentError.Invalid, await Refused(s.Sandbox.Agent.ReadFileAsync(path, 1024, CancellationToken.None)));
        Assert.Equal(AgentError.Invalid, await Refused(s.Sandbox.Agent.WriteFileAsync(path, "x"u8.ToArray(), CancellationToken.None)));
        Assert.Equal(AgentError.Invalid, await Refused(s.Sandbox.Agent.ListAsync(path, CancellationToken.None)));
    }

    [Fact]
    public async Task Symlinks_are_never_followed_whether_they_point_out_or_in()
    {
        var s = await StartAsync();
        var agent = s.Sandbox.Agent;
        await Sh(s, "ln -s /etc /workspace/etc; ln -s /etc/passwd /workspace/passwd; mkdir /workspace/real; echo inside > /workspace/real/f; ln -s real /workspace/alias");
        Assert.Equal(AgentError.Symlink, await Refused(agent.ReadFileAsync("/workspace/passwd", 1 << 20, CancellationToken.None)));
        Assert.Equal(AgentError.Symlink, await Refused(agent.ReadFileAsync("/workspace/etc/passwd", 1 << 20, CancellationToken.None)));
        Assert.Equal(AgentError.Symlink, await Refused(agent.ReadFileAsync("/workspace/alias/f", 1 << 20, CancellationToken.None)));
        Assert.Equal(AgentError.Symlink, await Refused(agent.WriteFileAsync("/workspace/etc/evil", "x"u8.ToArray(), CancellationToken.None)));
        Assert.Equal(AgentError.Symlink, await Refused(agent.WriteFileAsync("/workspace/passwd", "x"u8.ToArray(), CancellationToken.None)));
        Assert.Equal(AgentError.Symlink, await Refused(agent.ListAsync("/workspace/etc", CancellationToken.None)));
    }

    [Fact]
    public async Task Hard_links_fifos_devices_and_folders_are_refused_as_files()
    {
        var s = await StartAsync();
        var agent = s.Sandbox.Agent;
        await Sh(s, "echo data > /workspace/orig; ln /workspace/orig /workspace/hard; mkfifo /workspace/fifo; mkdir /workspace/dir");
        Assert.Equal(AgentError.HardLink, await Refused(agent.ReadFileAsync("/workspace/hard", 1024, CancellationToken.None)));
        Assert.Equal(AgentError.HardLink, await Refused(agent.WriteFileAsync("/workspace/hard", "x"u8.ToArray(), CancellationToken.None)));
        // The refused write changed nothing.
        Assert.Equal("data\n", (await Sh(s, "cat /workspace/orig")).Stdout);
        Assert.Equal(AgentError.NotRegular, await Refused(agent.ReadFileAsync("/workspace/fifo", 1024, CancellationToken.None)));
        Assert.Equal(AgentError.NotRegular, await Refused(agent.WriteFileAsync("/workspace/fifo", "x"u8.ToArray(), CancellationToken.None)));
        Assert.Equal(AgentError.NotRegular, await Refused(agent.ReadFileAsync("/workspace/dir", 1024, CancellationToken.None)));
        Assert.Equal(AgentError.NotRegular, await Refused(agent.WriteFileAsync("/workspace/dir", "x"u8.ToArray(), CancellationToken.None)));
        Assert.Equal(AgentError.NotFound, await Refused(agent.ReadFileAsync("/workspace/missing", 1024, CancellationToken.None)));
        await Sh(s, "echo more than two bytes > /workspace/single");
        Assert.Equal(AgentError.TooLarge, await Refused(agent.ReadFileAsync("/workspace/single", 2, CancellationToken.None)));
    }

    [Fact]
    public async Task A_symlink_swapped_in_during_reads_is_refused_never_followed()
    {
        var s = await StartAsync();
        // A loop inside the sandbox flips /workspace/target between a real file and a symlink to /etc/passwd.
        await Sh(s, "echo safe > /workspace/safe; (while true; do ln -sf /etc/passwd /workspace/target; cp /workspace/safe /workspace/target.tmp; mv -f /workspace/target.tmp /workspace/target; done) >/dev/null 2>&1 &");
        var contents = new HashSet<string>();
        var refusals = 0;
        for (var i = 0; i < 300; i++)
        {
            try
            {
                contents.Add(Encoding.UTF8.GetString(await s.Sandbox.Agent.ReadFileAsync("/workspace/target", 1 << 20, CancellationToken.None)));
            }
            catch (AgentException ex) when (ex.Code is AgentError.Symlink or AgentError.NotFound)
            {
                refusals++;
            }
        }
        Output.WriteLine($"reads: {contents.Count} distinct contents, {refusals} refusals");
        Assert.All(contents, c => Assert.Equal("safe\n", c));
        Assert.True(refusals > 0, "the swap never showed a symlink: the race was not exercised");
    }

    [Fact]
    public async Task Files_over_the_size_limit_are_refused()
    {
        var s = await StartAsync();
        await Sh(s, "head -c 3000000 /dev/zero > /workspace/big");
        Assert.Equal(AgentError.TooLarge, await Refused(s.Sandbox.Agent.ReadFileAsync("/workspace/big", 1_000_000, CancellationToken.None)));
        Assert.Equal(3_000_000, (await s.Sandbox.Agent.ReadFileAsync("/workspace/big", 4_000_000, CancellationToken.None)).Length);
    }
}
