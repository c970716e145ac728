namespace Boxes.Sdk.Tests;

/// <summary>Changes process environment variables, so it runs alone (after the parallel collections).</summary>
[CollectionDefinition(nameof(EnvironmentCollection), DisableParallelization = true)]
public sealed class EnvironmentCollection;

[Collection(nameof(EnvironmentCollection))]
public sealed class OptionsTests
{
    [Fact]
    public async Task Without_options_the_key_and_URL_come_from_BOXES_API_KEY_and_BOXES_API_URL()
    {
        await using var api = await ScriptedApi.StartAsync((http, _) => ScriptedApi.Reply(http, 200, ScriptedApi.SandboxBody("s1", "ready")));
        using var environment = new EnvironmentScope(("BOXES_API_KEY", "br_live_from_env"), ("BOXES_API_URL", api.Url));
        using var cloud = new SandboxCloud();

        var sandbox = await cloud.GetAsync("s1");

        Assert.Equal("ready", sandbox.Status);
        var request = Assert.Single(api.Requests);
        Assert.Equal("Bearer br_live_from_env", request.Authorization);
        Assert.Equal("/v1/sandboxes/s1", request.PathAndQuery);
        Assert.Equal("boxes-sdk-dotnet/0.1.0", request.UserAgent);
    }

    [Fact]
    public void Options_win_over_the_environment_and_the_URL_defaults_to_the_local_platform()
    {
        using var environment = new EnvironmentScope(("BOXES_API_KEY", "br_live_from_env"), ("BOXES_API_URL", null));
        using var cloud = new BrowserCloud();
        Assert.Equal(new Uri("http://127.0.0.1:8080/"), cloud.Transport.BaseUrl);

        using var explicitCloud = new BrowserCloud(new BoxesClientOptions { ApiKey = "k", BaseUrl = "https://boxes.example/api" });
        // A path prefix is kept: requests go under it.
        Assert.Equal(new Uri("https://boxes.example/api/"), explicitCloud.Transport.BaseUrl);
    }

    [Fact]
    public void A_missing_API_key_is_an_ArgumentException_naming_the_variable()
    {
        using var environment = new EnvironmentScope(("BOXES_API_KEY", null));

        var error = Assert.Throws<ArgumentException>(() => new BrowserCloud());
        Assert.Contains("BOXES_API_KEY", error.Message);
        Assert.Throws<ArgumentException>(() => new SandboxCloud(new BoxesClientOptions { ApiKey = "  " }));
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("ftp://boxes.example")]
    [InlineData("/relative")]
    public void A_malformed_base_URL_is_an_ArgumentException(string url)
    {
        var error = Assert.Throws<ArgumentException>(() => new BrowserCloud(new BoxesClientOptions { ApiKey = "k", BaseUrl = url }));
        Assert.Contains("BaseUrl", error.Message);
    }

    [Fact]
    public void Negative_retry_settings_are_refused()
    {
        Assert.Throws<ArgumentException>(() => new BrowserCloud(new BoxesClientOptions { ApiKey = "k", Retry = new RetryOptions { MaxRetries = -1 } }));
        Assert.Throws<ArgumentException>(() => new BrowserCloud(new BoxesClientOptions { ApiKey = "k", Retry = new RetryOptions { BaseDelayMs = -1 } }));
    }

    [Fact]
    public async Task Disposing_the_cloud_leaves_a_callers_handler_usable()
    {
        var handler = new CountingHandler(new SocketsHttpHandler());
        new BrowserCloud(new BoxesClientOptions { ApiKey = "k", HttpHandler = handler }).Dispose();

        using var again = new HttpClient(handler, disposeHandler: true);
        // A disposed handler throws ObjectDisposedException on send; a refused connection means it is still alive.
        var port = ScriptedApi.UnusedPort();
        await Assert.ThrowsAsync<HttpRequestException>(() => again.GetAsync($"http://127.0.0.1:{port}/"));
    }

    /// <summary>Sets environment variables and puts the old values back.</summary>
    private sealed class EnvironmentScope : IDisposable
    {
        private readonly List<(string Name, string? Old)> _saved = [];

        public EnvironmentScope(params (string Name, string? Value)[] values)
        {
            foreach (var (name, value) in values)
            {
                _saved.Add((name, Environment.GetEnvironmentVariable(name)));
                Environment.SetEnvironmentVariable(name, value);
            }
        }

        public void Dispose()
        {
            foreach (var (name, old) in _saved) Environment.SetEnvironmentVariable(name, old);
        }
    }
}
