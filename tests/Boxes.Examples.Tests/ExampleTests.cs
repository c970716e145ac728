using System.Net;
using System.Net.Sockets;
using Boxes.Testing;
using Xunit;

namespace Boxes.Examples.Tests;

/// <summary>
/// Each example under examples/ run as its own process against the running platform, with a fresh <c>pro</c>
/// organisation's key: what it prints, how it exits, and that it leaves no box running behind it.
/// </summary>
public sealed class ExampleTests : IDisposable
{
    // A cold browser launch on this two-core machine plus Playwright's driver start take seconds, not minutes.
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(2);
    private readonly CancellationTokenSource _cancellation = new(TimeSpan.FromMinutes(4));
    private CancellationToken Ct => _cancellation.Token;

    [Fact]
    public async Task The_browser_example_prints_the_title_of_the_page_it_is_given_and_ends_its_medium_session()
    {
        await using var organization = await Organization.CreateAsync("pro", Ct);
        await using var page = await TestPage.StartAsync(Ct);

        var run = await ExampleProgram.RunAsync("BrowserSession", organization.ExampleEnvironment, [page.Url], RunTimeout, Ct);

        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains(TestPage.Title, Lines(run.Stdout));
        Assert.True(page.Requests > 0, "The remote browser never requested the page");
        var session = Assert.Single(await organization.AssertEverythingEndsAsync(Ct));
        Assert.Equal(("browsers", "medium", "ended"), (session.Kind, session.Weight, session.Status));
    }

    [Fact]
    public async Task The_browser_example_reports_a_page_that_cannot_be_loaded_and_still_ends_its_session()
    {
        await using var organization = await Organization.CreateAsync("pro", Ct);
        var nothingListens = $"http://127.0.0.1:{UnusedLoopbackPort()}/";

        var run = await ExampleProgram.RunAsync("BrowserSession", organization.ExampleEnvironment, [nothingListens], RunTimeout, Ct);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("ERR_CONNECTION_REFUSED", run.Stderr);
        var session = Assert.Single(await organization.AssertEverythingEndsAsync(Ct));
        Assert.Equal(("browsers", "ended"), (session.Kind, session.Status));
    }

    [Fact]
    public async Task The_python_example_prints_the_squares_its_script_computed_lists_the_workspace_and_kills_its_sandbox()
    {
        await using var organization = await Organization.CreateAsync("pro", Ct);

        var run = await ExampleProgram.RunAsync("PythonSandbox", organization.ExampleEnvironment, [], RunTimeout, Ct);

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = Lines(run.Stdout);
        Assert.Contains("result: [0, 1, 4, 9, 16, 25, 36, 49, 64, 81]", lines);
        Assert.Contains(lines, line => line.StartsWith("  file", StringComparison.Ordinal) && line.EndsWith(" analyze.py", StringComparison.Ordinal));
        var sandbox = Assert.Single(await organization.AssertEverythingEndsAsync(Ct));
        Assert.Equal(("sandboxes", "ended"), (sandbox.Kind, sandbox.Status));
    }

    [Fact]
    public async Task The_checkpoint_example_reads_in_a_second_sandbox_the_files_written_in_the_first()
    {
        await using var organization = await Organization.CreateAsync("pro", Ct);

        var run = await ExampleProgram.RunAsync("SandboxCheckpoint", organization.ExampleEnvironment, [], RunTimeout, Ct);

        Assert.True(run.ExitCode == 0, run.ToString());
        var lines = Lines(run.Stdout);
        Assert.Contains("todo.txt: write files, checkpoint, carry on elsewhere", lines);
        Assert.Contains("squares.txt: [0, 1, 4, 9, 16]", lines);
        var sandboxes = await organization.AssertEverythingEndsAsync(Ct);
        Assert.Equal(2, sandboxes.Count(b => b.Kind == "sandboxes"));
        Assert.Equal(2, sandboxes.Count);
    }

    [Fact]
    public async Task An_example_with_a_key_the_api_does_not_know_exits_with_the_api_error()
    {
        var environment = new Dictionary<string, string?>
        {
            ["BOXES_API_URL"] = TestEnvironment.Require("BOXES_API_URL"),
            ["BOXES_API_KEY"] = $"br_live_unknown{Guid.NewGuid():N}",
        };

        var run = await ExampleProgram.RunAsync("PythonSandbox", environment, [], RunTimeout, Ct);

        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.Contains("Boxes API error 401 UNAUTHENTICATED", run.Stderr);
    }

    [Fact]
    public async Task An_example_without_an_api_key_stops_before_calling_the_api_with_an_error_naming_the_variable()
    {
        var environment = new Dictionary<string, string?> { ["BOXES_API_URL"] = TestEnvironment.Require("BOXES_API_URL") };

        var run = await ExampleProgram.RunAsync("PythonSandbox", environment, [], RunTimeout, Ct);

        Assert.True(run.ExitCode != 0, run.ToString());
        Assert.Contains("BOXES_API_KEY", run.Stderr);
        Assert.DoesNotContain("is ready", run.Stdout);
    }

    public void Dispose() => _cancellation.Dispose();

    private static IReadOnlyList<string> Lines(string text) => text.Split('\n').Select(line => line.TrimEnd('\r')).ToList();

    /// <summary>A loopback port nothing listens on: the system hands out a free one, which is closed again at once.</summary>
    private static int UnusedLoopbackPort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
