using System.Net.Http.Headers;
using System.Net.Http.Json;
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

    public async Task InitializeAsync()
    {
        using var admin = new HttpClient { BaseAddress = new Uri(ApiUrl), Timeout = TimeSpan.FromSeconds(30) };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestEnvironment.Require("BOXES_ADMIN_KEY"));
        var res = await admin.PostAsJsonAsync("/v1/admin/organizations", new { name = $"cli-tests-{Guid.NewGuid():N}", plan = "pro" });
        var body = await res.Content.ReadAsStringAsync();
        Assert.True(res.IsSuccessStatusCode, $"creating the tests' organisation answered {(int)res.StatusCode}: {body}");
        ApiKey = JsonNode.Parse(body)!["apiKey"]!.GetValue<string>();
    }

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
