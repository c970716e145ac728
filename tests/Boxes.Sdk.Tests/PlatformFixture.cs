using Boxes.Testing;

namespace Boxes.Sdk.Tests;

/// <summary>
/// The running platform (scripts/up.sh; BOXES_API_URL and BOXES_ADMIN_KEY): organisations of our own made through the
/// operator's route, so these tests neither lean on nor disturb the shared development organisation.
/// </summary>
public sealed class PlatformFixture : IAsyncLifetime
{
    public string ApiUrl { get; } = TestEnvironment.Require("BOXES_API_URL");

    /// <summary>A <c>pro</c> organisation's key, shared by the tests that need no organisation to themselves.</summary>
    public string ProKey { get; private set; } = "";

    public async Task InitializeAsync() => ProKey = await CreateOrganizationAsync("pro");

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>A fresh organisation on <paramref name="plan"/>; returns its API key.</summary>
    public async Task<string> CreateOrganizationAsync(string plan) =>
        (await PlatformAdmin.CreateOrganizationAsync(plan, "sdk-tests")).ApiKey;

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
