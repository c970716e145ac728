using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>Creating, reading, listing and closing sandboxes: validation, defaults, scoping, and what is not built.</summary>
public sealed class SandboxLifecycleTests(ApiHost host) : IClassFixture<ApiHost>
{
    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();
    private static string ErrorCode(JsonObject body) => body["error"]!["code"]!.GetValue<string>();
    private static string ErrorMessage(JsonObject body) => body["error"]!["message"]!.GetValue<string>();

    private async Task<(HttpClient Http, Guid OrgId)> Org(string plan = "pro")
    {
        var (id, key) = await host.CreateOrganization(plan);
        return (host.Client(key), id);
    }

    private static async Task<Guid> Create(HttpClient http, object? body = null, string kind = "sandboxes")
    {
        var res = await http.PostAsJsonAsync($"/v1/{kind}", body ?? new { });
        Assert.Equal(HttpStatusCode.Accepted, res.StatusCode);
        return Guid.Parse((await Json(res))["id"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_sandbox_created_with_an_empty_body_is_queued_with_the_defaults()
    {
        var (http, _) = await Org("pro");
        var res = await http.PostAsync("/v1/sandboxes", new StringContent("", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.Accepted, res.StatusCode);
        var created = await Json(res);
        Assert.Equal("queued", created["status"]!.GetValue<string>());
        Assert.Equal("bun", created["runtime"]!.GetValue<string>());
        Assert.Equal("standard", created["size"]!.GetValue<string>());
        Assert.True(created["ephemeral"]!.GetValue<bool>());
        Assert.Equal("none", created["network"]!.GetValue<string>());
        Assert.Equal(4 * 60 * 60 * 1000L, created["maxDurationMs"]!.GetValue<long>()); // the pro plan's ceiling
        foreach (var absent in new[] { "terminalUrl", "browserPreviewViewerUrl", "opencode", "readyAt", "pausedAt", "endedAt", "endReason", "region" })
        {
            Assert.True(created.ContainsKey(absent), $"the record has {absent}");
            Assert.Null(created[absent]);
        }
        var artifacts = created["artifacts"]!.AsObject();
        Assert.Null(artifacts["checkpointKey"]);
        Assert.Null(artifacts["outputLogKey"]);
        Assert.Empty(artifacts["items"]!.AsArray());

        var id = created["id"]!.GetValue<string>();
        Assert.Equal("queued", (await Json(await http.GetAsync($"/v1/sandboxes/{id}")))["status"]!.GetValue<string>());
        var list = await Json(await http.GetAsync("/v1/sandboxes?status=queued"));
        Assert.Contains(list["items"]!.AsArray(), i => i!["id"]!.GetValue<string>() == id);
        var requested = (await host.Store.ReadStreamAsync(Streams.ForBox(Guid.Parse(id)))).Select(StoredEvents.Deserialize).OfType<BoxRequested>().Single();
        Assert.Equal(BoxKinds.Sandbox, requested.Kind);
    }

    [Fact]
    public async Task The_chosen_fields_are_kept_and_env_values_are_never_echoed()
    {
        var (http, _) = await Org("pro");
        var res = await http.PostAsJsonAsync("/v1/sandboxes", new
        {
            runtime = "python", size = "standard", ephemeral = false, region = "lhr", maxDurationMs = 60_000, timeout = 45_000,
            env = new Dictionary<string, string> { ["API_TOKEN"] = "s3cr3t-value", ["_X1"] = "" },
            capabilities = new { network = "internet", opencode = new { enabled = false }, browser = (object?)null, docs = false },
        });
        Assert.Equal(HttpStatusCode.Accepted, res.StatusCode);
        var text = await res.Content.ReadAsStringAsync();
        Assert.DoesNotContain("s3cr3t-value", text);
        var created = JsonNode.Parse(text)!.AsObject();
        Assert.Equal("python", created["runtime"]!.GetValue<string>());
        Assert.False(created["ephemeral"]!.GetValue<bool>());
        Assert.Equal("internet", created["network"]!.GetValue<string>());
        Assert.Equal("lhr", created["region"]!.GetValue<string>());
        Assert.Equal(60_000L, created["maxDurationMs"]!.GetValue<long>());

        var id = Guid.Parse(created["id"]!.GetValue<string>());
        Assert.DoesNotContain("s3cr3t-value", await (await http.GetAsync($"/v1/sandboxes/{id}")).Content.ReadAsStringAsync());
        Assert.DoesNotContain("s3cr3t-value", await (await http.GetAsync("/v1/sandboxes")).Content.ReadAsStringAsync());
        // The worker needs them, so the spec carries them.
        var spec = (await host.Store.ReadStreamAsync(Streams.ForBox(id))).Select(StoredEvents.Deserialize).OfType<BoxRequested>().Single().Spec;
        Assert.Equal("s3cr3t-value", spec.Env!["API_TOKEN"]);
        Assert.Equal(SandboxNetworks.Internet, spec.Network);
        Assert.False(spec.Ephemeral);
    }

    [Theory]
    [InlineData("{\"runtime\":\"node\"}", "runtime")]
    [InlineData("{\"runtime\":3}", "runtime")]
    [InlineData("{\"size\":\"large\"}", "size")]
    [InlineData("{\"env\":[\"A=1\"]}", "env")]
    [InlineData("{\"env\":{\"1ABC\":\"x\"}}", "env")]
    [InlineData("{\"env\":{\"A-B\":\"x\"}}", "env")]
    [InlineData("{\"env\":{\"A\":1}}", "env.A")]
    [InlineData("{\"env\":{\"A\":\"x\\u0000y\"}}", "env.A")]
    [InlineData("{\"ephemeral\":\"yes\"}", "ephemeral")]
    [InlineData("{\"maxDurationMs\":999}", "maxDurationMs")]
    [InlineData("{\"maxDurationMs\":\"long\"}", "maxDurationMs")]
    [InlineData("{\"region\":42}", "region")]
    [InlineData("{\"timeout\":\"soon\"}", "timeout")]
    [InlineData("{\"capabilities\":\"all\"}", "capabilities")]
    [InlineData("{\"capabilities\":{\"network\":\"lan\"}}", "capabilities.network")]
    [InlineData("{\"capabilities\":{\"opencode\":\"yes\"}}", "capabilities.opencode")]
    [InlineData("{\"capabilities\":{\"browser\":{\"enabled\":\"maybe\"}}}", "capabilities.browser.enabled")]
    [InlineData("{\"fromCheckpoint\":42}", "fromCheckpoint")]
    [InlineData("{\"runtime\":", null)]
    [InlineData("[]", null)]
    public async Task Bad_sandbox_input_is_refused_naming_the_field_and_appends_nothing(string body, string? field)
    {
        var (http, _) = await Org();
        var before = await host.CountEvents();
        var res = await http.PostAsync("/v1/sandboxes", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var json = await Json(res);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(json));
        if (field is not null) Assert.StartsWith(field + ":", ErrorMessage(json));
        Assert.Equal(before, await host.CountEvents());
    }

    [Fact]
    public async Task More_than_a_hundred_env_variables_are_refused()
    {
        var (http, _) = await Org();
        var before = await host.CountEvents();
        var env = Enumerable.Range(0, 101).ToDictionary(i => $"V{i}", i => "x");
        var res = await http.PostAsJsonAsync("/v1/sandboxes", new { env });
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        Assert.StartsWith("env:", ErrorMessage(await Json(res)));
        var huge = await http.PostAsJsonAsync("/v1/sandboxes", new { env = new Dictionary<string, string> { ["BIG"] = new string('x', 40_000) } });
        Assert.Equal(HttpStatusCode.BadRequest, huge.StatusCode);
        Assert.Equal(before, await host.CountEvents());
        Assert.Equal(HttpStatusCode.Accepted, (await http.PostAsJsonAsync("/v1/sandboxes", new { env = env.Take(100).ToDictionary() })).StatusCode);
    }

    [Fact]
    public async Task A_duration_over_the_plan_is_a_plan_limit()
    {
        var (free, _) = await Org("free");
        var res = await free.PostAsJsonAsync("/v1/sandboxes", new { maxDurationMs = 2 * 60 * 60 * 1000 });
        Assert.Equal(HttpStatusCode.Forbidden, res.StatusCode);
        var json = await Json(res);
        Assert.Equal("PLAN_LIMIT_EXCEEDED", ErrorCode(json));
        Assert.Equal("free", json["error"]!["currentPlan"]!.GetValue<string>());
    }

    [Fact]
    public async Task Capabilities_not_built_yet_say_so_instead_of_being_ignored()
    {
        var (http, _) = await Org();
        var before = await host.CountEvents();
        foreach (var capabilities in new object[]
                 {
                     new { opencode = new { enabled = true, defaultAgent = "build" } },
                     new { browser = new { mode = "local-chromium", streamPreview = true } },
                     new { docs = true },
                     new { storage = new { } },
                 })
        {
            var res = await http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "bun", capabilities });
            Assert.Equal((HttpStatusCode)501, res.StatusCode);
            var json = await Json(res);
            Assert.Equal("NOT_IMPLEMENTED", ErrorCode(json));
            Assert.Contains("capabilities.", ErrorMessage(json));
        }
        Assert.Equal(before, await host.CountEvents());
    }

    [Fact]
    public async Task A_checkpoint_of_another_organisation_or_of_another_kind_is_not_found()
    {
        var (http, orgId) = await Org();
        var (_, otherOrg) = await Org();
        var foreign = host.Artifacts.Add(Guid.NewGuid(), otherOrg, ArtifactKinds.Checkpoint, "application/gzip", [1, 2, 3]);
        var screenshot = host.Artifacts.Add(Guid.NewGuid(), orgId, ArtifactKinds.Screenshot, "image/png", [4, 5]);
        var own = host.Artifacts.Add(Guid.NewGuid(), orgId, ArtifactKinds.Checkpoint, "application/gzip", [6]);
        var before = await host.CountEvents();
        foreach (var key in new[] { foreign.ArtifactId.ToString(), screenshot.ArtifactId.ToString(), Guid.NewGuid().ToString(), "not-a-key" })
        {
            var res = await http.PostAsJsonAsync("/v1/sandboxes", new { fromCheckpoint = key });
            Assert.Equal(HttpStatusCode.NotFound, res.StatusCode);
            var json = await Json(res);
            Assert.Equal("NOT_FOUND", ErrorCode(json));
            Assert.StartsWith("fromCheckpoint:", ErrorMessage(json));
        }
        Assert.Equal(before, await host.CountEvents());

        var created = await Json(await http.PostAsJsonAsync("/v1/sandboxes", new { fromCheckpoint = own.ArtifactId }));
        Assert.Equal(own.ArtifactId, Guid.Parse(created["fromCheckpoint"]!.GetValue<string>()));
        var spec = (await host.Store.ReadStreamAsync(Streams.ForBox(Guid.Parse(created["id"]!.GetValue<string>()))))
            .Select(StoredEvents.Deserialize).OfType<BoxRequested>().Single().Spec;
        Assert.Equal(own.ArtifactId, spec.FromCheckpoint);
        Assert.Equal(0, host.Artifacts.RequestsWithoutKey);
    }

    [Fact]
    public async Task Another_organisations_sandbox_and_a_browser_id_are_not_found()
    {
        var (owner, _) = await Org();
        var (other, _) = await Org();
        var sandbox = await Create(owner);
        var browser = await Create(owner, new { weight = "light" }, "browsers");

        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/sandboxes/{sandbox}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.DeleteAsync($"/v1/sandboxes/{sandbox}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsJsonAsync($"/v1/sandboxes/{sandbox}/exec", new { command = "ls" })).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.PostAsync($"/v1/sandboxes/{sandbox}/pause", null)).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await other.GetAsync($"/v1/sandboxes/{sandbox}/artifacts")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.GetAsync($"/v1/sandboxes/{browser}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.DeleteAsync($"/v1/sandboxes/{browser}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.GetAsync($"/v1/browsers/{sandbox}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await owner.GetAsync("/v1/sandboxes/not-a-guid")).StatusCode);

        var sandboxes = (await Json(await owner.GetAsync("/v1/sandboxes")))["items"]!.AsArray().Select(i => Guid.Parse(i!["id"]!.GetValue<string>()));
        Assert.Equal([sandbox], sandboxes);
        var browsers = (await Json(await owner.GetAsync("/v1/browsers")))["items"]!.AsArray().Select(i => Guid.Parse(i!["id"]!.GetValue<string>()));
        Assert.Equal([browser], browsers);
        Assert.Empty((await Json(await other.GetAsync("/v1/sandboxes")))["items"]!.AsArray());
        Assert.Equal(0, (await host.Store.ReadStreamAsync(Streams.ForBox(sandbox))).Count(e => e.Type == nameof(BoxStopRequested)));
        Assert.Equal(0, (await host.Store.ReadStreamAsync(Streams.ForBox(browser))).Count(e => e.Type == nameof(BoxStopRequested)));
    }

    [Fact]
    public async Task Closing_a_sandbox_twice_is_accepted_twice_and_asks_to_stop_once()
    {
        var (http, _) = await Org();
        var id = await Create(http);
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"/v1/sandboxes/{id}")).StatusCode);
        var again = await http.DeleteAsync($"/v1/sandboxes/{id}");
        Assert.Equal(HttpStatusCode.Accepted, again.StatusCode);
        Assert.Equal("ending", (await Json(again))["status"]!.GetValue<string>());
        Assert.Equal(1, (await host.Store.ReadStreamAsync(Streams.ForBox(id))).Count(e => e.Type == nameof(BoxStopRequested)));
    }

    [Fact]
    public async Task Browsers_and_sandboxes_share_the_plans_concurrency_limit()
    {
        var (free, _) = await Org("free"); // two boxes at once
        await Create(free, new { weight = "light" }, "browsers");
        await Create(free);
        var third = await free.PostAsJsonAsync("/v1/sandboxes", new { });
        Assert.Equal(HttpStatusCode.Forbidden, third.StatusCode);
        Assert.Equal("PLAN_LIMIT_EXCEEDED", ErrorCode(await Json(third)));
        Assert.Equal(HttpStatusCode.Forbidden, (await free.PostAsJsonAsync("/v1/browsers", new { })).StatusCode);
    }

    [Fact]
    public async Task The_sandbox_list_pages_newest_first_and_filters_by_status_including_paused()
    {
        var (http, _) = await Org();
        var ids = new List<Guid>();
        for (var i = 0; i < 3; i++) ids.Add(await Create(http));
        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await Json(await http.GetAsync("/v1/sandboxes?limit=2" + (cursor is null ? "" : "&cursor=" + cursor)));
            seen.AddRange(page["items"]!.AsArray().Select(i => Guid.Parse(i!["id"]!.GetValue<string>())));
            cursor = page["nextCursor"]?.GetValue<string>();
        } while (cursor is not null);
        Assert.Equal(Enumerable.Reverse(ids), seen);

        // Paused is a sandbox status the list knows (the projection folds BoxPaused like any other event).
        await host.MakeReady(ids[0], "http://127.0.0.1:1/sandboxes/" + ids[0]);
        await host.Append(ids[0], new BoxPaused(ids[0], DateTimeOffset.UtcNow));
        await Eventually.Until(async () =>
                (await Json(await http.GetAsync("/v1/sandboxes?status=paused")))["items"]!.AsArray().Select(i => Guid.Parse(i!["id"]!.GetValue<string>())).ToList(),
            items => items.SequenceEqual([ids[0]]), TimeSpan.FromSeconds(15), "the paused sandbox in ?status=paused");
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/v1/sandboxes?status=sleeping")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await http.GetAsync("/v1/browsers?status=paused")).StatusCode);
    }

    [Theory]
    [InlineData("GET", "preview")]
    [InlineData("POST", "preview/start")]
    [InlineData("POST", "preview/navigate")]
    [InlineData("GET", "preview/viewer-url")]
    [InlineData("GET", "handoff")]
    [InlineData("POST", "handoff/request")]
    [InlineData("POST", "handoff/accept")]
    [InlineData("POST", "control")]
    [InlineData("GET", "opencode")]
    [InlineData("GET", "opencode/messages")]
    [InlineData("GET", "opencode/events")]
    [InlineData("POST", "prompt")]
    public async Task Sandbox_features_not_built_yet_answer_501(string method, string route)
    {
        var (http, _) = await Org();
        var id = await Create(http);
        var res = await http.SendAsync(new HttpRequestMessage(new HttpMethod(method), $"/v1/sandboxes/{id}/{route}"));
        Assert.Equal((HttpStatusCode)501, res.StatusCode);
        Assert.Equal("NOT_IMPLEMENTED", ErrorCode(await Json(res)));
        // Still behind the API key, like every /v1 route.
        Assert.Equal(HttpStatusCode.Unauthorized, (await host.Client().PostAsync($"/v1/sandboxes/{id}/{route}", null)).StatusCode);
    }

    [Fact]
    public async Task The_API_refuses_to_start_without_the_internal_key()
    {
        await using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(web =>
        {
            web.UseSetting("ConnectionStrings:Boxes", "Host=127.0.0.1;Database=never_used");
            web.UseSetting("ConnectionStrings:RabbitMq", "amqp://nobody:nothing@127.0.0.1:1/none");
            web.UseSetting("Boxes:TokenSigningKey", Convert.ToBase64String(new byte[32]));
        });
        var ex = Assert.ThrowsAny<Exception>(() => factory.Server);
        Assert.Contains("Boxes:InternalKey", ex.ToString());
    }
}
