using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Testing;
using Xunit;

namespace Boxes.EndToEnd.Tests;

/// <summary>Step 2 of the spine issue, against the services scripts/up.sh started: real API, scheduler, worker, Chromium.</summary>
public sealed class BrowserSessionTests
{
    private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(30);
    private readonly Platform _platform = new();

    private async Task<JsonObject> LaunchReady(HttpClient http, object? config = null)
    {
        var res = await http.PostAsJsonAsync("/v1/browsers", config ?? new { weight = "light" });
        Assert.Equal(HttpStatusCode.Accepted, res.StatusCode);
        var created = await Platform.ReadJson(res);
        return await Platform.WaitForStatus(http, created["id"]!.GetValue<string>(), s => s is "ready" or "failed" or "ended", ReadyWithin);
    }

    private async Task<JsonObject> WorkerBox(string id)
    {
        using var worker = new HttpClient { BaseAddress = _platform.WorkerUrl };
        var res = await worker.GetAsync($"/boxes/{id}");
        res.EnsureSuccessStatusCode();
        return await Platform.ReadJson(res);
    }

    [Fact]
    public async Task A_session_goes_queued_to_ready_is_driven_over_cdp_and_closing_it_leaves_nothing_behind()
    {
        using var http = _platform.Client();
        var res = await http.PostAsJsonAsync("/v1/browsers", new { weight = "light" });
        Assert.Equal(HttpStatusCode.Accepted, res.StatusCode);
        var created = await Platform.ReadJson(res);
        Assert.Equal("queued", Platform.Status(created));
        var id = created["id"]!.GetValue<string>();

        // Read-your-writes: the GET right after the POST finds it.
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/v1/browsers/{id}")).StatusCode);

        var ready = await Platform.WaitForStatus(http, id, s => s is "ready" or "failed", ReadyWithin);
        Assert.Equal("ready", Platform.Status(ready));
        var cdpUrl = ready["cdpUrl"]!.GetValue<string>();
        Assert.StartsWith("ws://", cdpUrl);
        Assert.DoesNotContain(_platform.ApiKey, cdpUrl);

        var onWorker = await WorkerBox(id);
        var pid = onWorker["pid"]!.GetValue<int>();
        var profileDir = onWorker["profileDir"]!.GetValue<string>();
        Assert.True(Directory.Exists(profileDir));

        await using var cdp = await CdpClient.ConnectAsync(cdpUrl);
        var target = await cdp.SendAsync("Target.createTarget", new { url = "about:blank" });
        var attached = await cdp.SendAsync("Target.attachToTarget", new { targetId = target["targetId"]!.GetValue<string>(), flatten = true });
        var session = attached["sessionId"]!.GetValue<string>();
        await cdp.SendAsync("Page.navigate", new { url = "data:text/html,<title>boxes e2e</title><p>hello</p>" }, session);
        var title = await Eventually.Until(
            async () => (await cdp.SendAsync("Runtime.evaluate", new { expression = "document.title", returnByValue = true }, session))["result"]!["value"]?.ToString(),
            t => t == "boxes e2e", TimeSpan.FromSeconds(10), "the page title");
        Assert.Equal("boxes e2e", title);

        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"/v1/browsers/{id}")).StatusCode);
        var ended = await Platform.WaitForStatus(http, id, s => s is "ended" or "failed", TimeSpan.FromSeconds(30));
        Assert.Equal("ended", Platform.Status(ended));
        Assert.Equal("closed_by_owner", ended["endReason"]!.GetValue<string>());
        Assert.NotNull(ended["endedAt"]);

        // The proxy closed our socket when the session ended.
        using var closeWait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (await cdp.ReceiveAsync(closeWait.Token) is not null) { }

        // Nothing left on the worker: no process, no profile folder.
        await Eventually.Until(() => !Directory.Exists($"/proc/{pid}") && !Directory.Exists(profileDir),
            TimeSpan.FromSeconds(10), $"Chromium pid {pid} and {profileDir} to be gone");
        using var worker = new HttpClient { BaseAddress = _platform.WorkerUrl };
        Assert.Equal(HttpStatusCode.NotFound, (await worker.GetAsync($"/boxes/{id}")).StatusCode);
    }

    [Fact]
    public async Task Puppeteer_connects_with_the_cdp_url_as_it_is()
    {
        var script = Path.Combine(RepoRoot(), "tests", "e2e-node", "puppeteer-lifecycle.mjs");
        Assert.True(File.Exists(script), $"{script} is missing");
        var psi = new ProcessStartInfo("node", script) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.Environment["BOXES_API_URL"] = _platform.ApiUrl.ToString().TrimEnd('/');
        psi.Environment["BOXES_API_KEY"] = _platform.ApiKey;
        using var node = Process.Start(psi)!;
        var stdout = node.StandardOutput.ReadToEndAsync();
        var stderr = node.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await node.WaitForExitAsync(cts.Token);
        Assert.True(node.ExitCode == 0, $"puppeteer script failed ({node.ExitCode}):\n{await stdout}\n{await stderr}");
        Assert.Contains("title=boxes puppeteer", await stdout);
        Assert.Contains("final=ended", await stdout);
    }

    [Fact]
    public async Task Killing_the_chromium_process_fails_the_session_with_a_reason()
    {
        using var http = _platform.Client();
        var ready = await LaunchReady(http);
        Assert.Equal("ready", Platform.Status(ready));
        var id = ready["id"]!.GetValue<string>();
        var pid = (await WorkerBox(id))["pid"]!.GetValue<int>();

        Process.GetProcessById(pid).Kill();

        var failed = await Platform.WaitForStatus(http, id, s => s is "failed" or "ended", TimeSpan.FromSeconds(15));
        Assert.Equal("failed", Platform.Status(failed));
        Assert.Contains("process_crashed", failed["endReason"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_session_past_its_max_duration_ends_by_itself()
    {
        using var http = _platform.Client();
        var ready = await LaunchReady(http, new { weight = "light", maxDurationMs = 2000 });
        Assert.Equal("ready", Platform.Status(ready));
        var ended = await Platform.WaitForStatus(http, ready["id"]!.GetValue<string>(), s => s is "ended" or "failed", TimeSpan.FromSeconds(20));
        Assert.Equal("ended", Platform.Status(ended));
        Assert.Equal("max_duration_reached", ended["endReason"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_cdp_url_with_a_tampered_or_foreign_token_is_refused()
    {
        using var http = _platform.Client();
        var a = await LaunchReady(http);
        var b = await LaunchReady(http);
        var urlA = a["cdpUrl"]!.GetValue<string>();
        var urlB = b["cdpUrl"]!.GetValue<string>();
        try
        {
            var tokenB = urlB[(urlB.IndexOf("token=", StringComparison.Ordinal) + 6)..];
            var foreign = urlA[..(urlA.IndexOf("token=", StringComparison.Ordinal) + 6)] + tokenB;
            await Assert.ThrowsAnyAsync<System.Net.WebSockets.WebSocketException>(() => CdpClient.ConnectAsync(foreign));

            var tampered = urlA[..^2] + (urlA[^2] == 'A' ? "BB" : "AA");
            await Assert.ThrowsAnyAsync<System.Net.WebSockets.WebSocketException>(() => CdpClient.ConnectAsync(tampered));

            var noToken = urlA[..urlA.IndexOf('?')];
            await Assert.ThrowsAnyAsync<System.Net.WebSockets.WebSocketException>(() => CdpClient.ConnectAsync(noToken));

            // The genuine URL still works.
            await using var ok = await CdpClient.ConnectAsync(urlA);
            Assert.NotNull(await ok.SendAsync("Browser.getVersion"));
        }
        finally
        {
            await http.DeleteAsync($"/v1/browsers/{a["id"]}");
            await http.DeleteAsync($"/v1/browsers/{b["id"]}");
        }
    }

    [Fact]
    public async Task Another_organisation_cannot_see_or_close_a_session()
    {
        using var owner = _platform.Client();
        var ready = await LaunchReady(owner);
        var id = ready["id"]!.GetValue<string>();
        var (_, otherKey) = await _platform.CreateOrganizationAsync();
        using var other = _platform.Client(otherKey);
        try
        {
            Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/browsers/{id}")).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await other.DeleteAsync($"/v1/browsers/{id}")).StatusCode);
            var list = await Platform.ReadJson(await other.GetAsync("/v1/browsers"));
            Assert.DoesNotContain(list["items"]!.AsArray(), s => s!["id"]!.GetValue<string>() == id);
            Assert.Equal("ready", Platform.Status(await Platform.ReadJson(await owner.GetAsync($"/v1/browsers/{id}"))));
        }
        finally
        {
            await owner.DeleteAsync($"/v1/browsers/{id}");
        }
    }

    [Theory]
    [InlineData("{\"weight\":", "VALIDATION_FAILED", null)]
    [InlineData("{\"weight\":\"gigantic\"}", "VALIDATION_FAILED", "weight")]
    [InlineData("{\"maxDurationMs\":\"soon\"}", "VALIDATION_FAILED", "maxDurationMs")]
    [InlineData("[1,2,3]", "VALIDATION_FAILED", null)]
    public async Task Bad_input_gets_a_clear_error_in_the_contract_shape(string body, string code, string? field)
    {
        using var http = _platform.Client();
        var res = await http.PostAsync("/v1/browsers", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var error = (await Platform.ReadJson(res))["error"]!;
        Assert.Equal(code, error["code"]!.GetValue<string>());
        if (field is not null) Assert.Contains(field, error["message"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_missing_or_unknown_key_is_unauthenticated()
    {
        using var anonymous = new HttpClient { BaseAddress = _platform.ApiUrl };
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/v1/browsers")).StatusCode);
        using var wrong = _platform.Client("br_live_" + new string('x', 32));
        var res = await wrong.GetAsync("/v1/browsers");
        Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
        Assert.Equal("UNAUTHENTICATED", (await Platform.ReadJson(res))["error"]!["code"]!.GetValue<string>());
    }

    internal static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("Platform.sln not found above " + AppContext.BaseDirectory);
    }
}
