using Microsoft.AspNetCore.Http;
using System.Diagnostics;
using System.Globalization;

namespace Boxes.Sdk.Tests;

/// <summary>The transport's retry rules, against a scripted API on loopback that fails on cue.</summary>
public sealed class RetryTests
{
    private const string SessionId = "7d1c5a4e-0000-4000-8000-000000000001";

    /// <summary>Quick retries so the tests measure rules, not waits.</summary>
    public static BoxesClientOptions Options(string url, int maxRetries = 3, int baseDelayMs = 1, int maxDelayMs = 20,
        HttpMessageHandler? handler = null, TimeSpan? requestTimeout = null) => new()
    {
        ApiKey = "br_live_test",
        BaseUrl = url,
        Retry = new RetryOptions { MaxRetries = maxRetries, BaseDelayMs = baseDelayMs, MaxDelayMs = maxDelayMs },
        HttpHandler = handler,
        RequestTimeout = requestTimeout ?? TimeSpan.FromSeconds(30),
    };

    [Fact]
    public async Task A_500_then_a_200_succeeds_with_two_requests()
    {
        await using var api = await ScriptedApi.StartAsync((http, n) => n == 1
            ? ScriptedApi.Reply(http, 500, ScriptedApi.Error("INTERNAL", "boom"))
            : ScriptedApi.Reply(http, 200, ScriptedApi.Session(SessionId, "ready")));
        using var cloud = new BrowserCloud(Options(api.Url));

        var session = await cloud.GetBrowserAsync(SessionId);

        Assert.Equal(SessionId, session.Id);
        Assert.Equal("ready", session.Status);
        Assert.Equal(2, api.Requests.Count);
    }

    [Fact]
    public async Task A_503_every_time_fails_with_status_503_after_exactly_MaxRetries_plus_one_attempts()
    {
        await using var api = await ScriptedApi.StartAsync((http, _) =>
            ScriptedApi.Reply(http, 503, ScriptedApi.Error("SCHEDULING_FAILED", "no worker could take it")));
        using var cloud = new BrowserCloud(Options(api.Url, maxRetries: 3));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.GetBrowserAsync(SessionId));

        Assert.Equal(503, error.Status);
        Assert.Equal("SCHEDULING_FAILED", error.Code);
        Assert.Equal("no worker could take it", error.Message);
        Assert.Equal(4, api.Requests.Count);
    }

    [Fact]
    public async Task A_429_with_Retry_After_of_one_second_waits_that_second_then_succeeds()
    {
        await using var api = await ScriptedApi.StartAsync((http, n) => n == 1
            ? ScriptedApi.Reply(http, 429, ScriptedApi.Error("RATE_LIMITED", "slow down"), ("Retry-After", "1"))
            : ScriptedApi.Reply(http, 200, ScriptedApi.Session(SessionId, "ready")));
        using var cloud = new BrowserCloud(Options(api.Url, baseDelayMs: 1, maxDelayMs: 10_000));

        var watch = Stopwatch.StartNew();
        await cloud.GetBrowserAsync(SessionId);
        watch.Stop();

        Assert.Equal(2, api.Requests.Count);
        var gap = api.Requests[1].At - api.Requests[0].At;
        Assert.True(gap >= TimeSpan.FromMilliseconds(950), $"the retry came {gap.TotalMilliseconds} ms after the 429, before its Retry-After");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(8), $"took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_Retry_After_given_as_an_HTTP_date_is_waited_for()
    {
        // Three seconds ahead, at the header's one-second resolution: at least two seconds away when it is read.
        var retryAt = DateTimeOffset.UtcNow.AddSeconds(3).ToString("r", CultureInfo.InvariantCulture);
        await using var api = await ScriptedApi.StartAsync((http, n) => n == 1
            ? ScriptedApi.Reply(http, 503, ScriptedApi.Error("SCHEDULING_FAILED", "later"), ("Retry-After", retryAt))
            : ScriptedApi.Reply(http, 200, ScriptedApi.Session(SessionId, "ready")));
        using var cloud = new BrowserCloud(Options(api.Url, baseDelayMs: 1, maxDelayMs: 10_000));

        await cloud.GetBrowserAsync(SessionId);

        var gap = api.Requests[1].At - api.Requests[0].At;
        Assert.True(gap >= TimeSpan.FromMilliseconds(1500), $"the retry came {gap.TotalMilliseconds} ms after, before the Retry-After date");
        Assert.True(gap < TimeSpan.FromSeconds(8), $"the retry came {gap} after");
    }

    [Fact]
    public async Task A_Retry_After_longer_than_MaxDelayMs_is_cut_to_MaxDelayMs()
    {
        await using var api = await ScriptedApi.StartAsync((http, n) => n == 1
            ? ScriptedApi.Reply(http, 429, ScriptedApi.Error("RATE_LIMITED", "slow down"), ("Retry-After", "3600"))
            : ScriptedApi.Reply(http, 200, ScriptedApi.Session(SessionId, "ready")));
        using var cloud = new BrowserCloud(Options(api.Url, baseDelayMs: 1, maxDelayMs: 200));

        await cloud.GetBrowserAsync(SessionId);

        var gap = api.Requests[1].At - api.Requests[0].At;
        Assert.True(gap >= TimeSpan.FromMilliseconds(190) && gap < TimeSpan.FromSeconds(5), $"the retry came {gap.TotalMilliseconds} ms after");
    }

    [Theory]
    [InlineData(400, "VALIDATION_FAILED", null, null)]
    [InlineData(403, "PLAN_FEATURE_UNAVAILABLE", "builder", "free")]
    [InlineData(404, "NOT_FOUND", null, null)]
    [InlineData(409, "CONFLICT", null, null)]
    public async Task A_client_error_is_not_retried_and_carries_the_APIs_fields(int status, string code, string? requiredPlan, string? currentPlan)
    {
        await using var api = await ScriptedApi.StartAsync((http, _) =>
            ScriptedApi.Reply(http, status, ScriptedApi.Error(code, $"the {code} message", requiredPlan, currentPlan)));
        using var cloud = new BrowserCloud(Options(api.Url));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.CreateBrowserAsync(new BrowserConfig { Stealth = true }));

        Assert.Single(api.Requests);
        Assert.Equal(status, error.Status);
        Assert.Equal(code, error.Code);
        Assert.Equal($"the {code} message", error.Message);
        Assert.Equal(requiredPlan, error.RequiredPlan);
        Assert.Equal(currentPlan, error.CurrentPlan);
    }

    [Fact]
    public async Task A_refused_connection_is_retried_then_reported_as_NETWORK_ERROR()
    {
        var counting = new CountingHandler(new SocketsHttpHandler());
        using var cloud = new BrowserCloud(Options($"http://127.0.0.1:{ScriptedApi.UnusedPort()}", maxRetries: 2, handler: counting));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.GetBrowserAsync(SessionId));

        Assert.Equal(0, error.Status);
        Assert.Equal(BoxesError.NetworkErrorCode, error.Code);
        Assert.IsType<HttpRequestException>(error.InnerException);
        Assert.Equal(3, counting.Attempts);
        counting.Dispose();
    }

    [Fact]
    public async Task A_create_retried_after_a_500_sends_the_same_Idempotency_Key_and_another_create_a_new_one()
    {
        await using var api = await ScriptedApi.StartAsync((http, n) => n == 1
            ? ScriptedApi.Reply(http, 500, ScriptedApi.Error("INTERNAL", "lost"))
            : ScriptedApi.Reply(http, 202, ScriptedApi.Session(SessionId, "queued")));
        using var cloud = new BrowserCloud(Options(api.Url));

        await cloud.CreateBrowserAsync(new BrowserConfig { Weight = "medium" });
        await cloud.CreateBrowserAsync(new BrowserConfig { Weight = "medium" });

        var requests = api.Requests;
        Assert.Equal(3, requests.Count);
        Assert.True(Guid.TryParse(requests[0].IdempotencyKey, out _), $"not a key: {requests[0].IdempotencyKey}");
        Assert.Equal(requests[0].IdempotencyKey, requests[1].IdempotencyKey);
        Assert.NotNull(requests[2].IdempotencyKey);
        Assert.NotEqual(requests[0].IdempotencyKey, requests[2].IdempotencyKey);
        Assert.Equal(requests[0].Body, requests[1].Body); // the same body, or the API would answer 409
    }

    [Fact]
    public async Task Every_create_carries_an_Idempotency_Key_and_reads_do_not()
    {
        await using var api = await ScriptedApi.StartAsync((http, _) => http.Request.Path.Value switch
        {
            "/v1/sandboxes" => ScriptedApi.Reply(http, 202, ScriptedApi.SandboxBody("s1", "queued")),
            "/v1/webhooks" when http.Request.Method == "POST" => ScriptedApi.Reply(http, 201, """{"id":"w1","url":"http://x","eventTypes":["session.ready"],"signingSecret":"whsec_x"}"""),
            "/v1/webhooks" => ScriptedApi.Reply(http, 200, """{"items":[]}"""),
            "/v1/billing/checkout" => ScriptedApi.Reply(http, 200, """{"checkoutUrl":"https://pay.example/1"}"""),
            _ => ScriptedApi.Reply(http, 404, ScriptedApi.Error("NOT_FOUND", "no")),
        });
        using var sandboxes = new SandboxCloud(Options(api.Url));
        using var browsers = new BrowserCloud(Options(api.Url));

        await sandboxes.CreateAsync(new SandboxConfig { Runtime = "python" });
        var webhook = await browsers.CreateWebhookAsync(new CreateWebhookRequest { Url = "http://x", EventTypes = ["session.ready"] });
        var checkout = await browsers.CreateCheckoutAsync(new CheckoutRequest { Plan = "pro", SuccessUrl = "https://app.example/ok" });
        await browsers.ListWebhooksAsync();

        var requests = api.Requests;
        Assert.All(requests.Take(3), r => Assert.True(Guid.TryParse(r.IdempotencyKey, out _), $"{r.Method} {r.PathAndQuery} had no key"));
        Assert.Equal(3, requests.Take(3).Select(r => r.IdempotencyKey).Distinct().Count());
        Assert.Null(requests[3].IdempotencyKey);
        Assert.Equal("whsec_x", webhook.SigningSecret);
        Assert.Equal("https://pay.example/1", checkout.CheckoutUrl);
    }

    [Fact]
    public async Task Exec_is_not_retried_after_a_500()
    {
        await using var api = await ScriptedApi.StartAsync((http, _) => ScriptedApi.Reply(http, 500, ScriptedApi.Error("INTERNAL", "maybe it ran")));
        using var cloud = new SandboxCloud(Options(api.Url));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.ExecAsync("s1", "echo", ["hi"]));

        Assert.Equal(500, error.Status);
        Assert.Single(api.Requests);
    }

    [Fact]
    public async Task Exec_is_retried_after_a_429()
    {
        await using var api = await ScriptedApi.StartAsync((http, n) => n == 1
            ? ScriptedApi.Reply(http, 429, ScriptedApi.Error("RATE_LIMITED", "slow down"), ("Retry-After", "0"))
            : ScriptedApi.Reply(http, 200, """{"stdout":"hi\n","stderr":"","exitCode":0,"durationMs":3}"""));
        using var cloud = new SandboxCloud(Options(api.Url));

        var result = await cloud.ExecAsync("s1", "echo", ["hi"]);

        Assert.Equal("hi\n", result.Stdout);
        Assert.Equal(2, api.Requests.Count);
        Assert.Equal("""{"command":"echo","args":["hi"]}""", System.Text.Encoding.UTF8.GetString(api.Requests[0].Body));
    }

    [Fact]
    public async Task Exec_is_retried_when_the_connection_could_not_be_made()
    {
        var counting = new CountingHandler(new SocketsHttpHandler());
        using var cloud = new SandboxCloud(Options($"http://127.0.0.1:{ScriptedApi.UnusedPort()}", maxRetries: 2, handler: counting));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.ExecAsync("s1", "true"));

        Assert.Equal(BoxesError.NetworkErrorCode, error.Code);
        Assert.Equal(3, counting.Attempts);
        counting.Dispose();
    }

    [Fact]
    public async Task A_pause_is_not_retried_after_the_request_timed_out_but_a_read_is()
    {
        // The first request of each kind hangs past the timeout; the next answers at once.
        await using var api = await ScriptedApi.StartAsync(async (http, n) =>
        {
            if (n == 1 || n == 2)
            {
                try { await Task.Delay(TimeSpan.FromSeconds(10), http.RequestAborted); } catch (OperationCanceledException) { }
                return;
            }
            await ScriptedApi.Reply(http, 200, ScriptedApi.Session(SessionId, "ready"));
        });
        var options = Options(api.Url, requestTimeout: TimeSpan.FromMilliseconds(300));
        using var sandboxes = new SandboxCloud(options);
        using var browsers = new BrowserCloud(options);

        // The pause may have reached the sandbox: repeating it is not the SDK's call to make.
        var pauseError = await Assert.ThrowsAsync<BoxesError>(() => sandboxes.PauseAsync("s1"));
        Assert.Equal(BoxesError.NetworkErrorCode, pauseError.Code);
        Assert.Contains("no answer within", pauseError.Message);
        Assert.Single(api.Requests);

        var session = await browsers.GetBrowserAsync(SessionId);
        Assert.Equal("ready", session.Status);
        Assert.Equal(3, api.Requests.Count);
    }

    [Fact]
    public async Task Cancelling_during_a_backoff_ends_the_call_at_once()
    {
        await using var api = await ScriptedApi.StartAsync((http, _) =>
            ScriptedApi.Reply(http, 503, ScriptedApi.Error("SCHEDULING_FAILED", "later"), ("Retry-After", "30")));
        using var cloud = new BrowserCloud(Options(api.Url, maxRetries: 3, baseDelayMs: 1, maxDelayMs: 60_000));
        using var cancel = new CancellationTokenSource();

        var call = cloud.GetBrowserAsync(SessionId, cancel.Token);
        await Boxes.Testing.Eventually.Until(() => api.Requests.Count == 1, TimeSpan.FromSeconds(10), "the first attempt");
        var watch = Stopwatch.StartNew();
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => call);

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"the call ended {watch.Elapsed} after the cancellation");
        Assert.Single(api.Requests);
    }

    [Fact]
    public async Task A_non_JSON_error_body_still_gives_the_status_and_a_message()
    {
        await using var api = await ScriptedApi.StartAsync((http, _) =>
        {
            http.Response.StatusCode = 502;
            http.Response.ContentType = "text/html";
            return http.Response.WriteAsync("<html><body>Bad Gateway from the proxy</body></html>");
        });
        using var cloud = new BrowserCloud(Options(api.Url, maxRetries: 0));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.GetBrowserAsync(SessionId));

        Assert.Equal(502, error.Status);
        Assert.Equal("HTTP_502", error.Code);
        Assert.Contains("Bad Gateway from the proxy", error.Message);
        Assert.Single(api.Requests);
    }

    [Fact]
    public async Task An_empty_error_body_gives_the_status_as_the_message()
    {
        await using var api = await ScriptedApi.StartAsync((http, _) => ScriptedApi.Reply(http, 418));
        using var cloud = new BrowserCloud(Options(api.Url));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.GetBrowserAsync(SessionId));

        Assert.Equal(418, error.Status);
        Assert.Equal("HTTP_418", error.Code);
        Assert.StartsWith("HTTP 418", error.Message);
    }
}
