using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Boxes.Testing;

namespace Boxes.Sdk.Tests;

/// <summary>
/// The running platform (scripts/up.sh; BOXES_API_URL and BOXES_ADMIN_KEY): organisations of our own made through the
/// operator's route, so these tests neither lean on nor disturb the shared development organisation.
/// </summary>
public sealed class PlatformFixture : IAsyncLifetime
{
    public string ApiUrl { get; } = TestEnvironment.Require("BOXES_API_URL");
    private string AdminKey { get; } = TestEnvironment.Require("BOXES_ADMIN_KEY");

    /// <summary>A <c>pro</c> organisation's key, shared by the tests that need no organisation to themselves.</summary>
    public string ProKey { get; private set; } = "";

    public async Task InitializeAsync() => ProKey = await CreateOrganizationAsync("pro");

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>A fresh organisation on <paramref name="plan"/>; returns its API key.</summary>
    public async Task<string> CreateOrganizationAsync(string plan)
    {
        using var admin = new HttpClient { BaseAddress = new Uri(ApiUrl), Timeout = TimeSpan.FromSeconds(30) };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", AdminKey);
        using var response = await admin.PostAsJsonAsync("/v1/admin/organizations", new { name = $"sdk-tests-{Guid.NewGuid():N}", plan });
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, $"creating a {plan} organisation answered {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!["apiKey"]!.GetValue<string>();
    }

    public BoxesClientOptions Options(string? key = null, HttpMessageHandler? handler = null) => new()
    {
        ApiKey = key ?? ProKey,
        BaseUrl = ApiUrl,
        HttpHandler = handler,
        // Quick retries: a test should not sit out 10-second backoffs.
        Retry = new RetryOptions { MaxRetries = 3, BaseDelayMs = 100, MaxDelayMs = 2_000 },
    };
}

[CollectionDefinition(nameof(PlatformCollection))]
public sealed class PlatformCollection : ICollectionFixture<PlatformFixture>;
