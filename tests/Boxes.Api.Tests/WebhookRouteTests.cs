using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>
/// <c>/v1/webhooks</c> against a stand-in webhooks service: what is forwarded (route, organisation, body, key), what
/// comes back (status and body as the service gave them), what the edge refuses without asking the service, and what
/// the caller sees when the service is down, silent or not keeping its contract.
/// </summary>
public sealed class WebhookRouteTests(ApiHost host) : IClassFixture<ApiHost>, IAsyncLifetime
{
    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync()
    {
        Assert.Equal(0, host.Webhooks.RequestsWithoutKey);
        return Task.CompletedTask;
    }

    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();
    private static string ErrorCode(JsonObject body) => body["error"]!["code"]!.GetValue<string>();
    private static string ErrorMessage(JsonObject body) => body["error"]!["message"]!.GetValue<string>();

    private async Task<(HttpClient Http, Guid OrgId, string Key)> Org()
    {
        var (id, key) = await host.CreateOrganization();
        return (host.Client(key), id, key);
    }

    private static async Task<(Guid Id, JsonObject Body)> CreateWebhook(HttpClient http, string url = "https://hooks.example.com/boxes")
    {
        var res = await http.PostAsJsonAsync("/v1/webhooks", new { url, eventTypes = new[] { "session.ready", "sandbox.ended" } });
        Assert.Equal(HttpStatusCode.Created, res.StatusCode);
        var body = await Json(res);
        return (Guid.Parse(body["id"]!.GetValue<string>()), body);
    }

    private FakeWebhooks.Request LastRequest() => host.Webhooks.Requests[^1];

    /// <summary>The API again on the same database and broker, but with other webhooks settings.</summary>
    private WebApplicationFactory<Program> ApiWith(string address, string? timeout = null) => host.Factory.WithWebHostBuilder(web =>
    {
        web.UseSetting("Webhooks:Address", address);
        if (timeout is not null) web.UseSetting("Webhooks:Timeout", timeout);
    });

    private static HttpClient ClientOf(WebApplicationFactory<Program> factory, string key)
    {
        var http = factory.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    /// <summary>Every public webhook route, with a well-formed id in it.</summary>
    private static IEnumerable<(HttpMethod Method, string Path)> EveryRoute(Guid id, Guid deliveryId) =>
    [
        (HttpMethod.Post, "/v1/webhooks"), (HttpMethod.Get, "/v1/webhooks"), (HttpMethod.Get, $"/v1/webhooks/{id}"),
        (HttpMethod.Delete, $"/v1/webhooks/{id}"), (HttpMethod.Post, $"/v1/webhooks/{id}/test"), (HttpMethod.Post, $"/v1/webhooks/{id}/rotate-secret"),
        (HttpMethod.Post, $"/v1/webhooks/{id}/enable"), (HttpMethod.Get, $"/v1/webhooks/{id}/deliveries"),
        (HttpMethod.Post, $"/v1/webhooks/{id}/deliveries/{deliveryId}/replay"),
    ];

    private static HttpRequestMessage RequestFor(HttpMethod method, string path) => new(method, path)
    {
        Content = path == "/v1/webhooks" && method == HttpMethod.Post
            ? JsonContent.Create(new { url = "https://hooks.example.com/x", eventTypes = new[] { "session.ready" } })
            : null,
    };

    [Fact]
    public async Task Creating_a_webhook_forwards_only_the_checked_fields_under_the_callers_organisation_and_passes_the_201_through()
    {
        var (http, orgId, _) = await Org();
        var res = await http.PostAsJsonAsync("/v1/webhooks", new
        {
            url = "https://hooks.example.com/boxes?team=7", eventTypes = new[] { "session.ready", "sandbox.failed" }, organizationId = Guid.NewGuid(), extra = 1,
        });
        Assert.Equal(HttpStatusCode.Created, res.StatusCode);
        var body = await Json(res);
        Assert.Equal("fake-webhooks", body["servedBy"]!.GetValue<string>()); // the service's body, not one the API rebuilt
        Assert.StartsWith("whsec_", body["signingSecret"]!.GetValue<string>());
        Assert.Equal("https://hooks.example.com/boxes?team=7", body["url"]!.GetValue<string>());
        Assert.Equal("active", body["status"]!.GetValue<string>());

        var sent = LastRequest();
        Assert.Equal(("POST", $"/internal/organizations/{orgId}/webhooks"), (sent.Method, sent.Path));
        Assert.True(sent.WithKey);
        Assert.Equal(["eventTypes", "url"], sent.Body!.Select(p => p.Key).Order());
        Assert.Equal(["session.ready", "sandbox.failed"], sent.Body!["eventTypes"]!.AsArray().Select(t => t!.GetValue<string>()));
    }

    [Fact]
    public async Task Every_route_on_a_webhook_reaches_the_matching_internal_route_and_answers_as_the_service_answered()
    {
        var (http, orgId, _) = await Org();
        var (id, _) = await CreateWebhook(http);
        var prefix = $"/internal/organizations/{orgId}/webhooks";

        var list = await http.GetAsync("/v1/webhooks");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        var items = (await Json(list))["items"]!.AsArray();
        Assert.Equal([id.ToString()], items.Select(i => i!["id"]!.GetValue<string>()));
        Assert.False(items[0]!.AsObject().ContainsKey("signingSecret"));
        Assert.Equal(("GET", prefix, ""), (LastRequest().Method, LastRequest().Path, LastRequest().Query));

        var one = await http.GetAsync($"/v1/webhooks/{id.ToString().ToUpperInvariant()}"); // any GUID spelling names the same one
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal("fake-webhooks", (await Json(one))["servedBy"]!.GetValue<string>());
        Assert.Equal(("GET", $"{prefix}/{id}"), (LastRequest().Method, LastRequest().Path));

        var test = await http.PostAsync($"/v1/webhooks/{id}/test", null);
        Assert.Equal(HttpStatusCode.Accepted, test.StatusCode);
        var deliveryId = Guid.Parse((await Json(test))["deliveryId"]!.GetValue<string>());
        Assert.Equal(("POST", $"{prefix}/{id}/test"), (LastRequest().Method, LastRequest().Path));

        var deliveries = await http.GetAsync($"/v1/webhooks/{id}/deliveries?limit=5&cursor={Uri.EscapeDataString("fake-cursor/+=")}&other=dropped");
        Assert.Equal(HttpStatusCode.OK, deliveries.StatusCode);
        var log = await Json(deliveries);
        Assert.Equal("fake-cursor/+=", log["nextCursor"]!.GetValue<string>());
        var attempt = log["items"]![0]!["attempts"]![0]!;
        Assert.Equal(500, attempt["statusCode"]!.GetValue<int>());
        Assert.Equal(("GET", $"{prefix}/{id}/deliveries", "?limit=5&cursor=fake-cursor%2F%2B%3D"), (LastRequest().Method, LastRequest().Path, LastRequest().Query));

        var replay = await http.PostAsync($"/v1/webhooks/{id}/deliveries/{deliveryId}/replay", null);
        Assert.Equal(HttpStatusCode.Accepted, replay.StatusCode);
        Assert.Equal(deliveryId.ToString(), (await Json(replay))["deliveryId"]!.GetValue<string>());
        Assert.Equal(("POST", $"{prefix}/{id}/deliveries/{deliveryId}/replay"), (LastRequest().Method, LastRequest().Path));
        var unknownDelivery = await http.PostAsync($"/v1/webhooks/{id}/deliveries/{Guid.NewGuid()}/replay", null);
        Assert.Equal(HttpStatusCode.NotFound, unknownDelivery.StatusCode);
        Assert.Equal("NOT_FOUND", ErrorCode(await Json(unknownDelivery)));

        var rotated = await http.PostAsync($"/v1/webhooks/{id}/rotate-secret", null);
        Assert.Equal(HttpStatusCode.OK, rotated.StatusCode);
        var secrets = await Json(rotated);
        Assert.StartsWith("whsec_", secrets["signingSecret"]!.GetValue<string>());
        Assert.NotNull(secrets["previousSecretExpiresAt"]);
        Assert.Equal(("POST", $"{prefix}/{id}/rotate-secret"), (LastRequest().Method, LastRequest().Path));

        host.Webhooks.Disable(orgId, id);
        Assert.Equal("disabled", (await Json(await http.GetAsync($"/v1/webhooks/{id}")))["status"]!.GetValue<string>());
        var enabled = await http.PostAsync($"/v1/webhooks/{id}/enable", null);
        Assert.Equal(HttpStatusCode.OK, enabled.StatusCode);
        Assert.Equal("active", (await Json(enabled))["status"]!.GetValue<string>());
        Assert.Equal(("POST", $"{prefix}/{id}/enable"), (LastRequest().Method, LastRequest().Path));

        var deleted = await http.DeleteAsync($"/v1/webhooks/{id}");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        Assert.True((await Json(deleted))["deleted"]!.GetValue<bool>());
        Assert.Equal(("DELETE", $"{prefix}/{id}"), (LastRequest().Method, LastRequest().Path));

        var gone = await http.GetAsync($"/v1/webhooks/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal($"Webhook {id} was not found.", ErrorMessage(await Json(gone))); // the service's own message
    }

    [Fact]
    public async Task What_the_service_refuses_reaches_the_caller_with_its_status_and_message()
    {
        var (http, _, _) = await Org();
        var ssrf = await http.PostAsJsonAsync("/v1/webhooks", new { url = "http://169.254.169.254/latest", eventTypes = new[] { "session.ready" } });
        Assert.Equal(HttpStatusCode.BadRequest, ssrf.StatusCode);
        var error = await Json(ssrf);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(error));
        Assert.StartsWith("url: the address 169.254.169.254", ErrorMessage(error));

        var unknownType = await http.PostAsJsonAsync("/v1/webhooks", new { url = "https://hooks.example.com/", eventTypes = new[] { "no.such" } });
        Assert.Equal(HttpStatusCode.BadRequest, unknownType.StatusCode);
        Assert.StartsWith("eventTypes[0]: unknown event type", ErrorMessage(await Json(unknownType)));
    }

    [Theory]
    [InlineData("", "url")]
    [InlineData("[]", "The body must be a JSON object")]
    [InlineData("\"https://hooks.example.com/\"", "The body must be a JSON object")]
    [InlineData("{\"url\": ", "The body is not valid JSON")]
    [InlineData("{\"eventTypes\": [\"session.ready\"]}", "url")]
    [InlineData("{\"url\": null, \"eventTypes\": [\"session.ready\"]}", "url")]
    [InlineData("{\"url\": 42, \"eventTypes\": [\"session.ready\"]}", "url")]
    [InlineData("{\"url\": \"\", \"eventTypes\": [\"session.ready\"]}", "url")]
    [InlineData("{\"url\": \"/relative/path\", \"eventTypes\": [\"session.ready\"]}", "url")]
    [InlineData("{\"url\": \"ftp://hooks.example.com/\", \"eventTypes\": [\"session.ready\"]}", "url")]
    [InlineData("{\"url\": \"https://hooks.example.com/\"}", "eventTypes")]
    [InlineData("{\"url\": \"https://hooks.example.com/\", \"eventTypes\": \"session.ready\"}", "eventTypes")]
    [InlineData("{\"url\": \"https://hooks.example.com/\", \"eventTypes\": []}", "eventTypes")]
    [InlineData("{\"url\": \"https://hooks.example.com/\", \"eventTypes\": [\"session.ready\", 7]}", "eventTypes[1]")]
    [InlineData("{\"url\": \"https://hooks.example.com/\", \"eventTypes\": [\"\"]}", "eventTypes[0]")]
    [InlineData("{\"url\": \"https://hooks.example.com/\", \"eventTypes\": [null]}", "eventTypes[0]")]
    public async Task A_bad_create_body_is_refused_at_the_edge_and_never_reaches_the_service(string body, string named)
    {
        var (http, _, _) = await Org();
        var before = host.Webhooks.Requests.Count;
        var res = await http.PostAsync("/v1/webhooks", new StringContent(body, Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var error = await Json(res);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(error));
        Assert.StartsWith(named, ErrorMessage(error));
        Assert.Equal(before, host.Webhooks.Requests.Count);
    }

    [Fact]
    public async Task Oversized_urls_and_subscriptions_are_refused_at_the_edge()
    {
        var (http, _, _) = await Org();
        var before = host.Webhooks.Requests.Count;
        var longUrl = await http.PostAsJsonAsync("/v1/webhooks", new { url = "https://hooks.example.com/" + new string('a', 2048), eventTypes = new[] { "session.ready" } });
        Assert.StartsWith("url: longer than 2048", ErrorMessage(await Json(longUrl)));
        var manyTypes = await http.PostAsJsonAsync("/v1/webhooks", new { url = "https://hooks.example.com/", eventTypes = Enumerable.Repeat("session.ready", 65) });
        Assert.StartsWith("eventTypes: at most 64", ErrorMessage(await Json(manyTypes)));
        Assert.Equal(before, host.Webhooks.Requests.Count);
    }

    [Theory]
    [InlineData("not-a-guid")]
    [InlineData("12345")]
    [InlineData("..%2F..%2Fother")]
    public async Task A_malformed_webhook_id_is_not_found_like_an_unknown_one_and_never_reaches_the_service(string id)
    {
        var (http, _, _) = await Org();
        var before = host.Webhooks.Requests.Count;
        foreach (var (method, path) in EveryRoute(Guid.Empty, Guid.NewGuid()).Where(r => r.Path.Contains(Guid.Empty.ToString())))
        {
            var res = await http.SendAsync(RequestFor(method, path.Replace(Guid.Empty.ToString(), id)));
            Assert.True(res.StatusCode == HttpStatusCode.NotFound, $"{method} {path} answered {(int)res.StatusCode}");
            Assert.Equal("NOT_FOUND", ErrorCode(await Json(res)));
        }
        var (webhook, _) = await CreateWebhook(http);
        var afterCreate = host.Webhooks.Requests.Count;
        var replay = await http.PostAsync($"/v1/webhooks/{webhook}/deliveries/{id}/replay", null);
        Assert.Equal(HttpStatusCode.NotFound, replay.StatusCode);
        Assert.Equal("NOT_FOUND", ErrorCode(await Json(replay)));
        Assert.Equal(before + 1, afterCreate);
        Assert.Equal(afterCreate, host.Webhooks.Requests.Count);
    }

    [Theory]
    [InlineData("limit=0")]
    [InlineData("limit=101")]
    [InlineData("limit=-1")]
    [InlineData("limit=1.5")]
    [InlineData("limit=ten")]
    [InlineData("limit=")]
    [InlineData("limit=5&limit=6")]
    [InlineData("cursor=a&cursor=b")]
    public async Task A_deliveries_query_out_of_range_is_refused_at_the_edge(string query)
    {
        var (http, _, _) = await Org();
        var (id, _) = await CreateWebhook(http);
        var before = host.Webhooks.Requests.Count;
        var res = await http.GetAsync($"/v1/webhooks/{id}/deliveries?{query}");
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var error = await Json(res);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(error));
        Assert.StartsWith(query[..query.IndexOf('=')] + ":", ErrorMessage(error));
        Assert.Equal(before, host.Webhooks.Requests.Count);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    public async Task A_deliveries_limit_from_1_to_100_is_forwarded(int limit)
    {
        var (http, orgId, _) = await Org();
        var (id, _) = await CreateWebhook(http);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync($"/v1/webhooks/{id}/deliveries?limit={limit}")).StatusCode);
        Assert.Equal(($"/internal/organizations/{orgId}/webhooks/{id}/deliveries", $"?limit={limit}"), (LastRequest().Path, LastRequest().Query));
    }

    [Fact]
    public async Task Another_organisations_webhook_is_not_found_on_every_route_and_stays_untouched()
    {
        var (owner, ownerOrg, _) = await Org();
        var (id, _) = await CreateWebhook(owner);
        var delivery = Guid.Parse((await Json(await owner.PostAsync($"/v1/webhooks/{id}/test", null)))["deliveryId"]!.GetValue<string>());
        var (other, otherOrg, _) = await Org();

        foreach (var (method, path) in EveryRoute(id, delivery).Where(r => r.Path.Contains(id.ToString())))
        {
            var res = await other.SendAsync(RequestFor(method, path));
            Assert.True(res.StatusCode == HttpStatusCode.NotFound, $"{method} {path} answered {(int)res.StatusCode}");
            Assert.Equal("NOT_FOUND", ErrorCode(await Json(res)));
            // The service was asked under the caller's organisation, never the owner's.
            Assert.StartsWith($"/internal/organizations/{otherOrg}/webhooks/{id}", LastRequest().Path);
        }
        Assert.Empty((await Json(await other.GetAsync("/v1/webhooks")))["items"]!.AsArray());
        Assert.Equal("active", (await Json(await owner.GetAsync($"/v1/webhooks/{id}")))["status"]!.GetValue<string>());
        Assert.DoesNotContain(host.Webhooks.Requests, r => r.Path.Contains(ownerOrg.ToString()) && r.Method == "DELETE");
    }

    [Fact]
    public async Task Without_an_API_key_no_webhook_route_reaches_the_service()
    {
        var before = host.Webhooks.Requests.Count;
        foreach (var (method, path) in EveryRoute(Guid.NewGuid(), Guid.NewGuid()))
        {
            var res = await host.Client().SendAsync(RequestFor(method, path));
            Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
            res = await host.Client("br_live_not_a_real_key").SendAsync(RequestFor(method, path));
            Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
        }
        Assert.Equal(before, host.Webhooks.Requests.Count);
    }

    [Fact]
    public async Task A_webhooks_service_that_is_down_is_502_UPSTREAM_UNAVAILABLE_on_every_route()
    {
        var (_, _, key) = await Org();
        await using var api = ApiWith($"http://127.0.0.1:{ApiHost.FreeLoopbackPort()}");
        using var http = ClientOf(api, key);
        foreach (var (method, path) in EveryRoute(Guid.NewGuid(), Guid.NewGuid()))
        {
            var res = await http.SendAsync(RequestFor(method, path));
            Assert.True(res.StatusCode == HttpStatusCode.BadGateway, $"{method} {path} answered {(int)res.StatusCode}");
            var error = await Json(res);
            Assert.Equal("UPSTREAM_UNAVAILABLE", ErrorCode(error));
            Assert.Contains("webhooks service", ErrorMessage(error));
        }
    }

    [Fact]
    public async Task A_webhooks_service_that_does_not_answer_in_time_is_502_after_Webhooks_Timeout()
    {
        var (_, _, key) = await Org();
        await using var silent = await FakeWebhooks.StartAsync(ApiHost.InternalKey);
        silent.Mode = FakeWebhooks.Behaviour.Hang;
        await using var api = ApiWith(silent.Address, timeout: "00:00:01");
        using var http = ClientOf(api, key);
        var clock = Stopwatch.StartNew();
        var res = await http.GetAsync("/v1/webhooks");
        Assert.Equal(HttpStatusCode.BadGateway, res.StatusCode);
        Assert.Contains("did not answer within 1 s", ErrorMessage(await Json(res)));
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(10));
        Assert.Single(silent.Requests);
    }

    [Fact]
    public async Task A_service_that_refuses_the_internal_key_is_a_502_for_the_caller_never_a_401()
    {
        var (_, _, key) = await Org();
        await using var mismatched = await FakeWebhooks.StartAsync("another_internal_key_0123456789");
        await using var api = ApiWith(mismatched.Address);
        using var http = ClientOf(api, key);
        var res = await http.GetAsync("/v1/webhooks");
        Assert.Equal(HttpStatusCode.BadGateway, res.StatusCode);
        Assert.Equal("UPSTREAM_UNAVAILABLE", ErrorCode(await Json(res)));
        Assert.Single(mismatched.Requests);
    }

    [Fact]
    public async Task A_service_that_answers_without_JSON_is_a_502_in_the_error_shape_not_a_bare_404()
    {
        var (_, _, key) = await Org();
        await using var bare = await FakeWebhooks.StartAsync(ApiHost.InternalKey);
        bare.Mode = FakeWebhooks.Behaviour.BareNotFound;
        await using var api = ApiWith(bare.Address);
        using var http = ClientOf(api, key);
        var res = await http.GetAsync($"/v1/webhooks/{Guid.NewGuid()}");
        Assert.Equal(HttpStatusCode.BadGateway, res.StatusCode);
        var error = await Json(res);
        Assert.Equal("UPSTREAM_UNAVAILABLE", ErrorCode(error));
        Assert.Contains("answered 404 without the expected JSON", ErrorMessage(error));
    }
}
