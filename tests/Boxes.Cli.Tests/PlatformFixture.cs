using System.Text.Json.Nodes;
using Boxes.Testing;
using Xunit;

namespace Boxes.Cli.Tests;

/// <summary>
/// The running platform (scripts/up.sh, BOXES_API_URL and BOXES_ADMIN_KEY) and an organisation of the tests' own on the
/// pro plan, so these tests neither lean on nor disturb the shared development key.
/// </summary>
public sealed class PlatformFixture : IAsyncLifetime
{
    public string ApiUrl { get; } = TestEnvironment.Require("BOXES_API_URL");
    public string ApiKey { get; private set; } = "";

    /// <summary>The environment the CLI sees: the API and this organisation's key, nothing else.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string>
    {
        ["BOXES_API_URL"] = ApiUrl,
        ["BOXES_API_KEY"] = ApiKey,
    };

    public async Task InitializeAsync() => ApiKey = (await PlatformAdmin.CreateOrganizationAsync("pro", "cli-tests")).ApiKey;

    public Task DisposeAsync() => Task.CompletedTask;

    public Task<CliResult> RunAsync(params string[] args) => CliRunner.RunAsync(Environment, null, args);

    public Task<CliResult> RunWithStdinAsync(byte[] stdin, params string[] args) => CliRunner.RunAsync(Environment, stdin, args);

    /// <summary>Runs a command with --json that must succeed, and returns its document.</summary>
    public async Task<JsonNode> JsonAsync(params string[] args)
    {
        var result = await RunAsync([.. args, "--json"]);
        Assert.True(result.ExitCode == 0, $"boxes {string.Join(' ', args)} --json: {result}");
        return result.Json();
    }
}

[CollectionDefinition(Name)]
public sealed class PlatformCollection : ICollectionFixture<PlatformFixture>
{
    public const string Name = "platform";
}
