using System.Net;
using System.Net.Sockets;
using Xunit;

namespace Boxes.Cli.Tests;

/// <summary>Exit codes 2 and 3 and the help text: what a script gets before any box exists. No platform needed.</summary>
public sealed class UsageErrorTests
{
    private static readonly Dictionary<string, string> WithKey = new() { ["BOXES_API_KEY"] = "br_live_not-a-real-key", ["BOXES_API_URL"] = "http://127.0.0.1:9" };
    private static readonly Dictionary<string, string> NoEnvironment = new();

    [Theory]
    [InlineData("browsers", "launch", "--weight", "enormous")]
    [InlineData("sandboxes", "launch", "--runtime", "cobol")]
    [InlineData("sandboxes", "launch", "--env", "NOEQUALS")]
    [InlineData("sandboxes", "launch", "--timeout-ms", "0")]
    [InlineData("sandboxes", "launch", "--ephemeral", "maybe")]
    [InlineData("browsers", "ls", "--limit", "many")]
    [InlineData("browsers", "ls", "--limit", "-3")]
    [InlineData("sandboxes", "launch", "--timeout-ms", "soon")]
    [InlineData("sandboxes", "exec", "some-id")]
    [InlineData("sandboxes", "frobnicate")]
    [InlineData("webhooks", "create", "--url", "http://127.0.0.1:1/x")]
    [InlineData("usage", "--from", "last tuesday")]
    [InlineData("usage", "export", "--format", "xml")]
    public async Task Bad_arguments_exit_2_with_a_message_on_stderr_and_nothing_on_stdout(params string[] args)
    {
        var result = await CliRunner.RunAsync(WithKey, null, args);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith("boxes: ", result.Stderr);
        Assert.Contains("--help", result.Stderr);
        Assert.Empty(result.StdoutBytes);
    }

    [Fact]
    public async Task No_command_at_all_is_a_usage_error()
    {
        var result = await CliRunner.RunAsync(WithKey, null);
        Assert.True(result.ExitCode == 2, result.ToString());
    }

    [Fact]
    public async Task A_bad_argument_with_json_still_writes_one_json_error_document()
    {
        var result = await CliRunner.RunAsync(WithKey, null, "browsers", "launch", "--weight", "enormous", "--json");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("USAGE_ERROR", result.Json()["error"]!["code"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("sandboxes", "run-code", "sb", "--code", "print(1)", "--file", "x.py")]
    [InlineData("sandboxes", "run-code", "sb")]
    [InlineData("sandboxes", "run-code", "sb", "not-a-dash")]
    [InlineData("sandboxes", "fs", "write", "sb", "a.txt")]
    [InlineData("sandboxes", "fs", "write", "sb", "a.txt", "--from-file", "/definitely/not/here")]
    [InlineData("sandboxes", "exec", "sb", "--stdin-file", "/definitely/not/here", "--", "cat")]
    [InlineData("sandboxes", "terminal", "sb", "--json")]
    public async Task Conflicting_or_missing_sources_exit_2_before_any_request(params string[] args)
    {
        // The API URL is a closed port: reaching for the network would be exit 3, so 2 proves the check came first.
        var result = await CliRunner.RunAsync(WithKey, null, args);
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith("boxes: ", result.Stderr);
    }

    [Fact]
    public async Task A_missing_api_key_exits_2_and_names_the_variable()
    {
        var result = await CliRunner.RunAsync(NoEnvironment, null, "sandboxes", "ls");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("BOXES_API_KEY", result.Stderr);
        Assert.Contains("--api-key", result.Stderr);
    }

    [Fact]
    public async Task A_malformed_api_url_exits_2()
    {
        var result = await CliRunner.RunAsync(NoEnvironment, null, "sandboxes", "ls", "--api-key", "k", "--api-url", "not a url");
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Contains("not a url", result.Stderr);
    }

    [Fact]
    public async Task An_api_that_cannot_be_reached_exits_3_and_says_so_in_json()
    {
        var url = $"http://127.0.0.1:{ClosedPort()}";
        var result = await CliRunner.RunAsync(NoEnvironment, null, "browsers", "ls", "--api-url", url, "--api-key", "br_live_x", "--json");
        Assert.True(result.ExitCode == 3, result.ToString());
        var error = result.Json()["error"]!;
        Assert.Equal("NETWORK_ERROR", error["code"]!.GetValue<string>());
        Assert.Equal(0, error["status"]!.GetValue<int>());
        Assert.NotEmpty(result.Stderr);
    }

    [Fact]
    public async Task Help_documents_the_exit_codes_and_exits_0()
    {
        var result = await CliRunner.RunAsync(NoEnvironment, null, "--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("Exit codes", result.Stdout);
        Assert.Contains("130", result.Stdout);
        Assert.Contains("sandboxes", result.Stdout);
    }

    [Fact]
    public async Task Subcommand_help_shows_the_global_options()
    {
        var result = await CliRunner.RunAsync(NoEnvironment, null, "sandboxes", "exec", "--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("--api-key", result.Stdout);
        Assert.Contains("--json", result.Stdout);
        Assert.Contains("--stdin-file", result.Stdout);
    }

    /// <summary>A port nothing listens on: bound to get a free number, then released.</summary>
    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }
}
