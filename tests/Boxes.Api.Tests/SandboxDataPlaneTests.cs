using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Api.Lifecycle;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.Testing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>exec, run-code, files, pause/resume, checkpoints and artifacts, against a stand-in worker and artifacts service.</summary>
public sealed class SandboxDataPlaneTests(ApiHost host) : IClassFixture<ApiHost>, IAsyncLifetime
{
    private FakeWorker _worker = null!;

    public async Task InitializeAsync() => _worker = await FakeWorker.StartAsync(host);

    public async Task DisposeAsync()
    {
        host.Clock.Now = DateTimeOffset.UtcNow;
        Assert.Equal(0, _worker.RequestsWithoutKey);
        Assert.Equal(0, host.Artifacts.RequestsWithoutKey);
        await _worker.DisposeAsync();
    }

    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();
    private static string ErrorCode(JsonObject body) => body["error"]!["code"]!.GetValue<string>();
    private static string ErrorMessage(JsonObject body) => body["error"]!["message"]!.GetValue<string>();

    private async Task<(HttpClient Http, Guid Id)> Sandbox(bool ready = true)
    {
        var (_, key) = await host.CreateOrganization();
        var http = host.Client(key);
        var res = await http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "python" });
        Assert.Equal(HttpStatusCode.Accepted, res.StatusCode);
        var id = Guid.Parse((await Json(res))["id"]!.GetValue<string>());
        if (ready) await host.MakeReady(id, _worker.EndpointFor(id));
        return (http, id);
    }

    private async Task<IReadOnlyList<string>> EventTypes(Guid id) => (await host.Store.ReadStreamAsync(Streams.ForBox(id))).Select(e => e.Type).ToList();

    [Fact]
    public async Task Exec_passes_the_workers_answer_through_unchanged()
    {
        var (http, id) = await Sandbox();
        var res = await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new
        {
            command = "echo", args = new[] { "Hello", "from sandbox!" }, cwd = "/workspace", env = new Dictionary<string, string> { ["GREETING"] = "hi" }, stdin = "in", timeoutMs = 5000,
            unknownField = "dropped",
        });
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var answer = await Json(res);
        Assert.Equal("echo Hello from sandbox!\n", answer["stdout"]!.GetValue<string>());
        Assert.Equal(0, answer["exitCode"]!.GetValue<int>());
        Assert.Equal("fake-worker", answer["servedBy"]!.GetValue<string>()); // not reshaped by the API

        var sent = _worker.Requests.Last(r => r.Route == "exec").Body!;
        Assert.Equal("echo", sent["command"]!.GetValue<string>());
        Assert.Equal(["Hello", "from sandbox!"], sent["args"]!.AsArray().Select(a => a!.GetValue<string>()));
        Assert.Equal("/workspace", sent["cwd"]!.GetValue<string>());
        Assert.Equal("hi", sent["env"]!["GREETING"]!.GetValue<string>());
        Assert.Equal("in", sent["stdin"]!.GetValue<string>());
        Assert.Equal(5000, sent["timeoutMs"]!.GetValue<int>());
        Assert.False(sent.ContainsKey("unknownField"));

        // The worker's own errors keep their status and body.
        var refused = await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "teapot" });
        Assert.Equal((HttpStatusCode)418, refused.StatusCode);
        var error = await Json(refused);
        Assert.Equal("TEAPOT", ErrorCode(error));
        Assert.Equal("the worker says no", ErrorMessage(error));

        var code = await http.PostAsJsonAsync($"/v1/sandboxes/{id}/run-code", new { code = "print(1 + 1)" });
        Assert.Equal(HttpStatusCode.OK, code.StatusCode);
        Assert.Equal("print(1 + 1)", (await Json(code))["stdout"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("exec", "{}", "command")]
    [InlineData("exec", "{\"command\":\"\"}", "command")]
    [InlineData("exec", "{\"command\":[\"ls\"]}", "command")]
    [InlineData("exec", "{\"command\":\"ls\",\"args\":\"-la\"}", "args")]
    [InlineData("exec", "{\"command\":\"ls\",\"args\":[1]}", "args[0]")]
    [InlineData("exec", "{\"command\":\"ls\",\"cwd\":5}", "cwd")]
    [InlineData("exec", "{\"command\":\"ls\",\"env\":{\"9\":\"x\"}}", "env")]
    [InlineData("exec", "{\"command\":\"ls\",\"env\":{\"A\":true}}", "env.A")]
    [InlineData("exec", "{\"command\":\"ls\",\"stdin\":{}}", "stdin")]
    [InlineData("exec", "{\"command\":\"ls\",\"timeoutMs\":0}", "timeoutMs")]
    [InlineData("exec", "{\"command\":\"ls\",\"timeoutMs\":3600001}", "timeoutMs")]
    [InlineData("exec", "{\"command\":\"ls\",\"timeoutMs\":1.5}", "timeoutMs")]
    [InlineData("run-code", "{}", "code")]
    [InlineData("run-code", "{\"code\":42}", "code")]
    [InlineData("run-code", "{\"code\":\"1\",\"timeoutMs\":-1}", "timeoutMs")]
    public async Task Exec_and_run_code_input_is_refused_before_the_worker_sees_it(string route, string body, string field)
    {
        var (http, id) = await Sandbox();
        var before = _worker.Requests.Count;
        var res = await http.PostAsync($"/v1/sandboxes/{id}/{route}", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var json = await Json(res);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(json));
        Assert.StartsWith(field + ":", ErrorMessage(json));
        Assert.Equal(before, _worker.Requests.Count);
    }

    [Fact]
    public async Task Exec_waits_for_a_sandbox_that_becomes_ready_meanwhile()
    {
        var (http, id) = await Sandbox(ready: false);
        var changes = host.Factory.Services.GetRequiredService<BoxChangeNotifier>();
        var exec = http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "true" });
        await Eventually.Until(() => changes.Waiters == 1 || exec.IsCompleted, TimeSpan.FromSeconds(10), "the exec to wait on the sandbox");
        Assert.False(exec.IsCompleted, "the exec did not wait for the starting sandbox");
        await host.Append(id, new BoxScheduling(id, DateTimeOffset.UtcNow)); // a step that is not yet ready: still waiting
        await host.MakeReady(id, _worker.EndpointFor(id));
        var res = await exec;
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        Assert.Equal("true\n", (await Json(res))["stdout"]!.GetValue<string>());
        Assert.Equal(0, changes.Waiters);
    }

    [Fact]
    public async Task Exec_on_a_sandbox_that_never_becomes_ready_gives_up_with_a_503()
    {
        var (http, id) = await Sandbox(ready: false);
        var started = DateTime.UtcNow;
        var res = await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "true" });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, res.StatusCode);
        Assert.Equal("SCHEDULING_FAILED", ErrorCode(await Json(res)));
        Assert.NotNull(res.Headers.RetryAfter);
        Assert.True(DateTime.UtcNow - started >= ApiHost.SandboxStartWait - TimeSpan.FromMilliseconds(100), "it waited the configured time");
    }

    [Fact]
    public async Task Exec_on_an_ended_or_failed_sandbox_is_a_conflict()
    {
        var (http, ended) = await Sandbox();
        await host.Append(ended, new BoxEnded(ended, EndReasons.MaxDurationReached, DateTimeOffset.UtcNow));
        var res = await http.PostAsJsonAsync($"/v1/sandboxes/{ended}/exec", new { command = "ls" });
        Assert.Equal(HttpStatusCode.Conflict, res.StatusCode);
        var json = await Json(res);
        Assert.Equal("CONFLICT", ErrorCode(json));
        Assert.Contains("ended", ErrorMessage(json));

        var (http2, failed) = await Sandbox(ready: false);
        var waiting = http2.GetAsync($"/v1/sandboxes/{failed}/fs/list");
        await host.Append(failed, new BoxFailed(failed, "SCHEDULING_FAILED", EndReasons.SchedulingTimeout, DateTimeOffset.UtcNow));
        var whileStarting = await waiting;
        Assert.Equal(HttpStatusCode.Conflict, whileStarting.StatusCode); // the wait ends as soon as the box fails
        Assert.Equal(HttpStatusCode.Conflict, (await http2.PostAsJsonAsync($"/v1/sandboxes/{failed}/exec", new { command = "ls" })).StatusCode);
    }

    [Fact]
    public async Task Exec_on_a_paused_sandbox_is_a_conflict()
    {
        var (http, id) = await Sandbox();
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync($"/v1/sandboxes/{id}/pause", null)).StatusCode);
        var before = _worker.Requests.Count;
        foreach (var res in new[]
                 {
                     await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "ls" }),
                     await http.PostAsJsonAsync($"/v1/sandboxes/{id}/run-code", new { code = "1" }),
                     await http.GetAsync($"/v1/sandboxes/{id}/fs/list"),
                     await http.PostAsync($"/v1/sandboxes/{id}/checkpoint", null),
                     await http.GetAsync($"/v1/sandboxes/{id}/terminal"),
                 })
        {
            Assert.Equal(HttpStatusCode.Conflict, res.StatusCode);
            Assert.Contains("resume it first", ErrorMessage(await Json(res)));
        }
        Assert.Equal(before, _worker.Requests.Count);
    }

    [Fact]
    public async Task A_worker_that_does_not_answer_is_upstream_unavailable()
    {
        var (http, id) = await Sandbox(ready: false);
        await host.MakeReady(id, $"http://127.0.0.1:1/sandboxes/{id}"); // nothing listens on port 1
        var res = await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "ls" });
        Assert.Equal(HttpStatusCode.BadGateway, res.StatusCode);
        Assert.Equal("UPSTREAM_UNAVAILABLE", ErrorCode(await Json(res)));
        var pause = await http.PostAsync($"/v1/sandboxes/{id}/pause", null);
        Assert.Equal(HttpStatusCode.BadGateway, pause.StatusCode);
        Assert.DoesNotContain(nameof(BoxPaused), await EventTypes(id)); // not recorded paused when the worker did not pause it
    }

    [Fact]
    public async Task Files_are_written_read_and_listed_through_the_worker_as_bytes()
    {
        var (http, id) = await Sandbox();
        var bytes = RandomNumberGenerator.GetBytes(3 * 1024 * 1024 + 17);
        var content = new ByteArrayContent(bytes);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var write = await http.PutAsync($"/v1/sandboxes/{id}/fs/write?path={Uri.EscapeDataString("/workspace/data/blob bin")}", content);
        Assert.Equal(HttpStatusCode.OK, write.StatusCode);
        Assert.Equal(bytes.Length, (await Json(write))["size"]!.GetValue<long>());

        var read = await http.GetAsync($"/v1/sandboxes/{id}/fs/read?path={Uri.EscapeDataString("/workspace/data/blob bin")}");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal("application/octet-stream", read.Content.Headers.ContentType!.MediaType);
        Assert.Equal("nosniff", read.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal(bytes, await read.Content.ReadAsByteArrayAsync());

        var missing = await http.GetAsync($"/v1/sandboxes/{id}/fs/read?path=/workspace/none");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("NOT_FOUND", ErrorCode(await Json(missing)));

        var list = await Json(await http.GetAsync($"/v1/sandboxes/{id}/fs/list"));
        Assert.Equal("data/blob bin", list["entries"]!.AsArray().Single()!["name"]!.GetValue<string>());
        Assert.Equal("?path=%2Fworkspace", _worker.Requests.Last(r => r.Route == "fs/list").Query);
    }

    [Theory]
    [InlineData("GET", "fs/read", "path")]
    [InlineData("GET", "fs/read?path=", "path")]
    [InlineData("GET", "fs/read?path=/workspace/a%00b", "path")]
    [InlineData("GET", "fs/read?path=/a&path=/b", "path")]
    [InlineData("PUT", "fs/write", "path")]
    [InlineData("GET", "fs/list?path=/workspace/%00", "path")]
    [InlineData("GET", "fs/list?path=LONG", "path")]
    public async Task Paths_are_checked_at_the_edge(string method, string route, string field)
    {
        var (http, id) = await Sandbox();
        var before = _worker.Requests.Count;
        route = route.Replace("LONG", "/workspace/" + new string('a', 4096));
        var res = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/v1/sandboxes/{id}/{route}")
            { Content = method == "PUT" ? new ByteArrayContent([1]) : null });
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        Assert.StartsWith(field + ":", ErrorMessage(await Json(res)));
        Assert.Equal(before, _worker.Requests.Count);
    }

    [Fact]
    public async Task A_file_over_64_MiB_is_refused_before_the_worker_sees_it()
    {
        var (http, id) = await Sandbox();
        var before = _worker.Requests.Count;
        var content = new StreamContent(new MemoryStream(new byte[16]));
        content.Headers.ContentLength = 64L * 1024 * 1024 + 1; // declared: refused before a byte is read
        var res = await http.PutAsync($"/v1/sandboxes/{id}/fs/write?path=/workspace/big", content);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, res.StatusCode);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(await Json(res)));
        Assert.Equal(before, _worker.Requests.Count);
    }

    [Fact]
    public async Task Pause_and_resume_follow_the_state_rules_and_append_their_events()
    {
        var (http, id) = await Sandbox(ready: false);
        var early = await http.PostAsync($"/v1/sandboxes/{id}/pause", null);
        Assert.Equal(HttpStatusCode.Conflict, early.StatusCode); // only a ready sandbox pauses
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync($"/v1/sandboxes/{id}/resume", null)).StatusCode);
        await host.MakeReady(id, _worker.EndpointFor(id));

        var paused = await http.PostAsync($"/v1/sandboxes/{id}/pause", null);
        Assert.Equal(HttpStatusCode.OK, paused.StatusCode);
        var record = await Json(paused);
        Assert.Equal("paused", record["status"]!.GetValue<string>());
        Assert.NotNull(record["pausedAt"]);
        Assert.Null(record["terminalUrl"]);
        Assert.Equal("pause", _worker.Requests.Last().Route);
        Assert.Equal(1, (await EventTypes(id)).Count(t => t == nameof(BoxPaused)));
        Assert.Equal("paused", (await Json(await http.GetAsync($"/v1/sandboxes/{id}")))["status"]!.GetValue<string>());

        var twice = await http.PostAsync($"/v1/sandboxes/{id}/pause", null);
        Assert.Equal(HttpStatusCode.Conflict, twice.StatusCode);
        Assert.Equal(1, (await EventTypes(id)).Count(t => t == nameof(BoxPaused)));

        var resumed = await http.PostAsync($"/v1/sandboxes/{id}/resume", null);
        Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        var again = await Json(resumed);
        Assert.Equal("ready", again["status"]!.GetValue<string>());
        Assert.Null(again["pausedAt"]);
        Assert.NotNull(again["terminalUrl"]);
        Assert.Equal("resume", _worker.Requests.Last().Route);
        Assert.Equal(1, (await EventTypes(id)).Count(t => t == nameof(BoxResumed)));

        var notPaused = await http.PostAsync($"/v1/sandboxes/{id}/resume", null);
        Assert.Equal(HttpStatusCode.Conflict, notPaused.StatusCode);
        Assert.Contains("not paused", ErrorMessage(await Json(notPaused)));
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "ls" })).StatusCode);
    }

    [Fact]
    public async Task A_pause_that_loses_the_race_to_a_close_is_a_conflict_and_records_nothing()
    {
        var (http, id) = await Sandbox();
        var other = await Sandbox();
        // While the worker pauses, the owner closes the sandbox and an artifact lands on another box: our expected version is stale.
        _worker.DuringPause = async boxId =>
        {
            if (boxId == id) await host.Append(id, new BoxStopRequested(id, DateTimeOffset.UtcNow));
        };
        try
        {
            var res = await http.PostAsync($"/v1/sandboxes/{id}/pause", null);
            Assert.Equal(HttpStatusCode.Conflict, res.StatusCode);
            Assert.Contains("ending", ErrorMessage(await Json(res)));
            Assert.DoesNotContain(nameof(BoxPaused), await EventTypes(id));

            // A concurrent append that does not end the box (an artifact) is retried over.
            _worker.DuringPause = async boxId =>
                await host.Append(boxId, new ArtifactCreated(boxId, Guid.NewGuid(), Guid.NewGuid(), ArtifactKinds.Log, "text/plain", 1, "00", DateTimeOffset.UtcNow));
            var retried = await other.Http.PostAsync($"/v1/sandboxes/{other.Id}/pause", null);
            Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
            Assert.Equal("paused", (await Json(retried))["status"]!.GetValue<string>());
        }
        finally
        {
            _worker.DuringPause = null;
        }
    }

    [Fact]
    public async Task A_checkpoint_answers_its_key_and_the_artifacts_object_which_outlives_the_sandbox()
    {
        var (http, id) = await Sandbox();
        var res = await http.PostAsync($"/v1/sandboxes/{id}/checkpoint", null);
        Assert.Equal(HttpStatusCode.OK, res.StatusCode);
        var body = await Json(res);
        Assert.True(body["ok"]!.GetValue<bool>());
        var key = body["key"]!.GetValue<string>();
        var artifacts = body["artifacts"]!.AsObject();
        Assert.Equal(key, artifacts["checkpointKey"]!.GetValue<string>());
        Assert.Null(artifacts["outputLogKey"]);
        var item = artifacts["items"]!.AsArray().Single()!;
        Assert.Equal(key, item["key"]!.GetValue<string>());
        Assert.Equal("checkpoint", item["kind"]!.GetValue<string>());
        Assert.Equal("application/gzip", item["contentType"]!.GetValue<string>());
        Assert.True(item["sizeBytes"]!.GetValue<long>() > 0);

        var second = await Json(await http.PostAsync($"/v1/sandboxes/{id}/checkpoint", null));
        Assert.Equal(second["key"]!.GetValue<string>(), second["artifacts"]!["checkpointKey"]!.GetValue<string>()); // the newest
        Assert.Equal(2, second["artifacts"]!["items"]!.AsArray().Count);

        await host.Append(id, new BoxEnded(id, EndReasons.ClosedByOwner, DateTimeOffset.UtcNow));
        var after = await http.GetAsync($"/v1/sandboxes/{id}/artifacts");
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(2, (await Json(after))["artifacts"]!["items"]!.AsArray().Count);
        Assert.Equal(2, (await Json(await http.GetAsync($"/v1/sandboxes/{id}")))["artifacts"]!["items"]!.AsArray().Count);
        Assert.Equal(HttpStatusCode.Conflict, (await http.PostAsync($"/v1/sandboxes/{id}/checkpoint", null)).StatusCode);
    }

    [Fact]
    public async Task Download_urls_are_signed_expire_and_stream_the_bytes_as_an_attachment()
    {
        var (http, id) = await Sandbox();
        var key = (await Json(await http.PostAsync($"/v1/sandboxes/{id}/checkpoint", null)))["key"]!.GetValue<string>();
        var otherKey = (await Json(await http.PostAsync($"/v1/sandboxes/{id}/checkpoint", null)))["key"]!.GetValue<string>();

        var link = await Json(await http.GetAsync($"/v1/sandboxes/{id}/artifacts/{key}/download-url"));
        var url = link["url"]!.GetValue<string>();
        Assert.StartsWith($"http://localhost/v1/artifacts/{key}/content?", url);
        var expiresAt = DateTimeOffset.Parse(link["expiresAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(expiresAt - host.Clock.Now, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(15));

        var anonymous = host.Client(); // the link is the credential: no API key
        var sig = url[(url.IndexOf("sig=", StringComparison.Ordinal) + 4)..];
        var tampered = url.Replace("sig=" + sig, "sig=" + (sig[0] == 'A' ? 'B' : 'A') + sig[1..]);
        var otherArtifact = url.Replace(key, otherKey);
        var laterExpiry = url.Replace($"expires={expiresAt.ToUnixTimeSeconds()}", $"expires={expiresAt.ToUnixTimeSeconds() + 3600}");
        var withoutSig = url[..url.IndexOf("&sig=", StringComparison.Ordinal)];
        var requestsBefore = host.Artifacts.Requests;
        foreach (var bad in new[] { tampered, otherArtifact, laterExpiry, withoutSig })
        {
            var refused = await anonymous.GetAsync(bad);
            Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
            Assert.Equal("UNAUTHENTICATED", ErrorCode(await Json(refused)));
        }
        Assert.Equal(requestsBefore, host.Artifacts.Requests); // refused before anything was looked up

        var download = await anonymous.GetAsync(url);
        Assert.Equal(HttpStatusCode.OK, download.StatusCode);
        Assert.Equal("attachment", download.Content.Headers.ContentDisposition!.DispositionType);
        Assert.Equal($"{key}.tar.gz", download.Content.Headers.ContentDisposition.FileName?.Trim('"'));
        Assert.Equal("nosniff", download.Headers.GetValues("X-Content-Type-Options").Single());
        Assert.Equal("application/gzip", download.Content.Headers.ContentType!.MediaType);
        Assert.StartsWith($"workspace of {id}", Encoding.UTF8.GetString(await download.Content.ReadAsByteArrayAsync()));

        host.Clock.Now = host.Clock.Now.AddMinutes(16);
        try
        {
            var expired = await anonymous.GetAsync(url);
            Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
            Assert.Contains("expired", ErrorMessage(await Json(expired)));
        }
        finally
        {
            host.Clock.Now = DateTimeOffset.UtcNow;
        }

        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/sandboxes/{id}/artifacts/{Guid.NewGuid()}/download-url")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/sandboxes/{id}/artifacts/null/download-url")).StatusCode);
        var (stranger, _) = await Sandbox(ready: false);
        Assert.Equal(HttpStatusCode.NotFound, (await stranger.GetAsync($"/v1/sandboxes/{id}/artifacts/{key}/download-url")).StatusCode);
    }
}
