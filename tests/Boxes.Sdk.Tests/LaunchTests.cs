using System.Text;

namespace Boxes.Sdk.Tests;

/// <summary>Launching and disposing boxes against a scripted API: ready, failed, timed out, cancelled, all without leaking a box.</summary>
public sealed class LaunchTests
{
    private const string Id = "5b0c2f9e-0000-4000-8000-0000000000aa";
    private const string Cdp = "ws://127.0.0.1:1/v1/browsers/x/cdp?token=t";

    private static BoxesClientOptions Options(string url) => RetryTests.Options(url);

    /// <summary>POST creates; GET answers <paramref name="status"/> for the n-th read; DELETE is recorded and accepted.</summary>
    private static Task<ScriptedApi> BrowserApi(Func<int, string> status, string? endReason = null, TimeSpan? createDelay = null)
    {
        var reads = 0;
        return ScriptedApi.StartAsync(async (http, _) =>
        {
            switch (http.Request.Method)
            {
                case "POST":
                    if (createDelay is { } delay) await Task.Delay(delay);
                    await ScriptedApi.Reply(http, 202, ScriptedApi.Session(Id, "queued"));
                    break;
                case "GET":
                    var s = status(Interlocked.Increment(ref reads));
                    await ScriptedApi.Reply(http, 200, ScriptedApi.Session(Id, s, s == "ready" ? Cdp : null, endReason));
                    break;
                case "DELETE":
                    await ScriptedApi.Reply(http, 202, ScriptedApi.Session(Id, "ending"));
                    break;
            }
        });
    }

    private static int Deletes(ScriptedApi api) => api.Requests.Count(r => r is { Method: "DELETE", PathAndQuery: "/v1/browsers/" + Id });

    [Fact]
    public async Task Launch_polls_until_the_session_is_ready_and_returns_its_CDP_URL()
    {
        await using var api = await BrowserApi(n => n < 3 ? "starting" : "ready");
        using var cloud = new BrowserCloud(Options(api.Url));

        await using (var browser = await cloud.LaunchAsync(new BrowserConfig { Weight = "medium" }))
        {
            Assert.Equal(Cdp, browser.CdpUrl);
            Assert.Equal(Id, browser.SessionId);
            Assert.Equal(0, Deletes(api));
        }

        Assert.Equal(1, Deletes(api));
        Assert.Equal(3, api.Requests.Count(r => r.Method == "GET"));
        // Timeout is the SDK's, not the API's: it is not sent.
        Assert.Equal("""{"weight":"medium"}""", Encoding.UTF8.GetString(api.Requests[0].Body));
    }

    [Fact]
    public async Task A_session_that_fails_while_launching_is_a_BoxesError_with_its_end_reason_and_is_closed()
    {
        await using var api = await BrowserApi(n => n < 2 ? "starting" : "failed", endReason: "chromium crashed");
        using var cloud = new BrowserCloud(Options(api.Url));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.LaunchAsync());

        Assert.Equal(BoxesError.BoxFailedCode, error.Code);
        Assert.Contains("chromium crashed", error.Message);
        Assert.Equal(1, Deletes(api));
    }

    [Fact]
    public async Task A_launch_that_times_out_closes_the_session_and_throws_TIMEOUT()
    {
        await using var api = await BrowserApi(_ => "starting");
        using var cloud = new BrowserCloud(Options(api.Url));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.LaunchAsync(new BrowserConfig { Timeout = 400 }));

        Assert.Equal(BoxesError.TimeoutCode, error.Code);
        Assert.Equal(0, error.Status);
        Assert.Contains("starting", error.Message);
        Assert.Equal(1, Deletes(api));
        Assert.True(api.Requests.Count(r => r.Method == "GET") >= 2, "it polled more than once");
    }

    [Fact]
    public async Task Cancelling_while_the_create_is_in_flight_closes_the_box_it_made_before_the_exception_surfaces()
    {
        await using var api = await BrowserApi(_ => "starting", createDelay: TimeSpan.FromMilliseconds(500));
        using var cloud = new BrowserCloud(Options(api.Url));
        using var cancel = new CancellationTokenSource();

        var launch = cloud.LaunchAsync(cancellationToken: cancel.Token);
        await Boxes.Testing.Eventually.Until(() => api.Requests.Count == 1, TimeSpan.FromSeconds(10), "the create to arrive");
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => launch);
        Assert.Equal(1, Deletes(api));
    }

    [Fact]
    public async Task Cancelling_while_waiting_for_ready_closes_the_box()
    {
        await using var api = await BrowserApi(_ => "starting");
        using var cloud = new BrowserCloud(Options(api.Url));
        using var cancel = new CancellationTokenSource();

        var launch = cloud.LaunchAsync(cancellationToken: cancel.Token);
        await Boxes.Testing.Eventually.Until(() => api.Requests.Count(r => r.Method == "GET") >= 2, TimeSpan.FromSeconds(10), "polling");
        cancel.Cancel();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => launch);
        Assert.Equal(1, Deletes(api));
    }

    [Fact]
    public async Task Await_using_kills_the_sandbox_when_the_block_throws()
    {
        await using var api = await ScriptedApi.StartAsync((http, _) => http.Request.Method switch
        {
            "POST" => ScriptedApi.Reply(http, 202, ScriptedApi.SandboxBody(Id, "queued")),
            "GET" => ScriptedApi.Reply(http, 200, ScriptedApi.SandboxBody(Id, "ready")),
            _ => ScriptedApi.Reply(http, 202, ScriptedApi.SandboxBody(Id, "ending")),
        });
        using var cloud = new SandboxCloud(Options(api.Url));

        await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using var sandbox = await cloud.LaunchAsync(new SandboxConfig { Runtime = "python" });
            throw new InvalidOperationException("the caller's own failure");
        });

        Assert.Single(api.Requests, r => r is { Method: "DELETE", PathAndQuery: "/v1/sandboxes/" + Id });
    }

    [Fact]
    public async Task Disposing_a_box_that_is_already_gone_does_not_throw_and_a_closed_one_is_not_closed_twice()
    {
        await using var api = await ScriptedApi.StartAsync((http, _) => http.Request.Method switch
        {
            "POST" => ScriptedApi.Reply(http, 202, ScriptedApi.SandboxBody(Id, "queued")),
            "GET" => ScriptedApi.Reply(http, 200, ScriptedApi.SandboxBody(Id, "ready")),
            _ => ScriptedApi.Reply(http, 404, ScriptedApi.Error("NOT_FOUND", "Sandbox gone")),
        });
        using var cloud = new SandboxCloud(Options(api.Url));

        var sandbox = await cloud.LaunchAsync();
        await sandbox.KillAsync();
        await sandbox.DisposeAsync();

        Assert.Single(api.Requests, r => r.Method == "DELETE");
    }

    [Fact]
    public async Task A_sandbox_that_ends_while_awaited_is_BOX_ENDED()
    {
        await using var api = await ScriptedApi.StartAsync((http, _) => ScriptedApi.Reply(http, 200, ScriptedApi.SandboxBody(Id, "ended")));
        using var cloud = new SandboxCloud(Options(api.Url));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.WaitForReadyAsync(Id, 5_000));
        Assert.Equal(BoxesError.BoxEndedCode, error.Code);
    }
}
