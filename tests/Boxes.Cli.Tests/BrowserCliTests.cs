using Boxes.Testing;
using Xunit;

namespace Boxes.Cli.Tests;

/// <summary>boxes browsers ... against the running platform.</summary>
[Collection(PlatformCollection.Name)]
public sealed class BrowserCliTests(PlatformFixture platform)
{
    [Fact]
    public async Task Launch_hands_out_a_ready_session_that_get_ls_and_close_see()
    {
        var launched = await platform.JsonAsync("browsers", "launch", "--weight", "light");
        var id = launched["id"]!.GetValue<string>();
        try
        {
            Assert.Equal("ready", launched["status"]!.GetValue<string>());
            Assert.StartsWith("ws", launched["cdpUrl"]!.GetValue<string>());

            // launch does not close it: it is still ready for another program.
            var got = await platform.JsonAsync("browsers", "get", id);
            Assert.Equal("ready", got["status"]!.GetValue<string>());

            var listed = await platform.JsonAsync("browsers", "ls", "--limit", "50");
            Assert.Contains(listed["items"]!.AsArray(), s => s!["id"]!.GetValue<string>() == id);

            var table = await platform.RunAsync("browsers", "ls");
            Assert.True(table.ExitCode == 0, table.ToString());
            Assert.Contains(id, table.Stdout);
            Assert.DoesNotContain("\u001b[", table.Stdout); // redirected: no colour codes

            var closed = await platform.JsonAsync("browsers", "close", id);
            Assert.Contains(closed["status"]!.GetValue<string>(), new[] { "ending", "ended" });
            await Eventually.Until(async () => (await platform.JsonAsync("browsers", "get", id))["status"]!.GetValue<string>(),
                status => status == "ended", TimeSpan.FromSeconds(30), $"browser {id} to end");
        }
        finally
        {
            await platform.RunAsync("browsers", "close", id);
        }
    }

    [Fact]
    public async Task A_launch_not_ready_within_its_timeout_exits_4_and_ends_the_session()
    {
        var result = await platform.RunAsync("browsers", "launch", "--timeout-ms", "1", "--json");
        Assert.True(result.ExitCode == 4, result.ToString());
        var error = result.Json()["error"]!;
        Assert.Equal("TIMEOUT", error["code"]!.GetValue<string>());
        // Nobody got the id, so the CLI closed the session rather than leave it running until its max duration:
        // it ends (left alone it would become ready and stay so).
        var message = error["message"]!.GetValue<string>();
        var id = (await platform.JsonAsync("browsers", "ls", "--limit", "50"))["items"]!.AsArray()
            .Select(s => s!["id"]!.GetValue<string>()).Single(message.Contains);
        await Eventually.Until(async () => (await platform.JsonAsync("browsers", "get", id))["status"]!.GetValue<string>(),
            status => status is "ended" or "failed", TimeSpan.FromSeconds(30), $"browser {id} to end after the timed-out launch");
    }

    [Fact]
    public async Task Launch_for_people_prints_the_id_and_cdp_url_unwrapped()
    {
        var result = await platform.RunAsync("browsers", "launch");
        Assert.True(result.ExitCode == 0, result.ToString());
        var idLine = result.Stdout.Split('\n').Single(l => l.StartsWith("id "));
        var id = idLine["id ".Length..].Trim();
        try
        {
            var cdpLine = result.Stdout.Split('\n').Single(l => l.StartsWith("cdpUrl "));
            var cdpUrl = cdpLine["cdpUrl ".Length..].Trim();
            Assert.Equal((await platform.JsonAsync("browsers", "get", id))["cdpUrl"]!.GetValue<string>(), cdpUrl);
            Assert.Contains("browsers close", result.Stderr);
        }
        finally
        {
            await platform.RunAsync("browsers", "close", id);
        }
    }
}
