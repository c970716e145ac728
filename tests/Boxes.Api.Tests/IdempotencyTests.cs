using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Api.Idempotency;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Npgsql;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>
/// <c>Idempotency-Key</c> on the creates: a retried create makes one box (or webhook endpoint) and gets the first answer
/// again byte for byte; another request under the same key is a conflict; concurrent retries wait for the first; 5xx
/// answers and rate-limited requests leave the key free; keys are per organisation, checked, and forgotten after 24 hours.
/// </summary>
public sealed class IdempotencyTests(ApiHost host) : IClassFixture<ApiHost>
{
    private const string Header = "Idempotency-Key";
    private const string BrowserBody = """{"weight":"light"}""";
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();
    private static string ErrorCode(JsonObject body) => body["error"]!["code"]!.GetValue<string>();
    private static string ErrorMessage(JsonObject body) => body["error"]!["message"]!.GetValue<string>();
    private static bool Replayed(HttpResponseMessage res) =>
        res.Headers.TryGetValues(StoredAnswer.ReplayedHeader, out var values) && values.Single() == "true";

    private async Task<(HttpClient Http, Guid OrgId, string Key)> Org(string plan = "pro")
    {
        var (id, key) = await host.CreateOrganization(plan);
        return (host.Client(key), id, key);
    }

    private static Task<HttpResponseMessage> Post(HttpClient http, string path, string body, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (key is not null) request.Headers.TryAddWithoutValidation(Header, key);
        return http.SendAsync(request);
    }

    private async Task<long> BoxesRequestedBy(Guid orgId)
    {
        await using var cmd = host.Database.DataSource.CreateCommand(
            "SELECT count(*) FROM event_store.events WHERE type = 'BoxRequested' AND data->>'organizationId' = $1");
        cmd.Parameters.Add(new NpgsqlParameter { Value = orgId.ToString() });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private async Task<long> KeysStoredFor(Guid orgId, string? key = null)
    {
        await using var cmd = host.Database.DataSource.CreateCommand(
            "SELECT count(*) FROM api.idempotency_keys WHERE organization_id = $1 AND ($2::text IS NULL OR key = $2)");
        cmd.Parameters.Add(new NpgsqlParameter { Value = orgId });
        cmd.Parameters.Add(new NpgsqlParameter { Value = (object?)key ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    private async Task<int> WebhooksOf(HttpClient http)
    {
        var list = await http.GetAsync("/v1/webhooks");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        return (await Json(list))["items"]!.AsArray().Count;
    }

    private static HttpClient ClientOf(WebApplicationFactory<Program> factory, string key)
    {
        var http = factory.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    [Fact]
    public async Task A_retried_create_with_the_same_key_makes_one_box_and_gets_the_first_answer_again()
    {
        var (http, orgId, _) = await Org();
        var first = await Post(http, "/v1/browsers", BrowserBody, "retry-1");
        var firstBytes = await first.Content.ReadAsByteArrayAsync();
        var second = await Post(http, "/v1/browsers", BrowserBody, "retry-1");

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.False(Replayed(first));
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.True(Replayed(second));
        Assert.Equal(firstBytes, await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(first.Content.Headers.ContentType, second.Content.Headers.ContentType);
        Assert.Equal("queued", (await Json(second))["status"]!.GetValue<string>());
        Assert.Equal(1, await BoxesRequestedBy(orgId));
    }

    [Fact]
    public async Task Ten_concurrent_creates_with_one_key_make_one_box_and_all_get_its_id()
    {
        var (http, orgId, _) = await Org();
        var answers = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => Post(http, "/v1/sandboxes", "{}", "burst-key")));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.Accepted, a.StatusCode));
        var ids = await Task.WhenAll(answers.Select(async a => (await Json(a))["id"]!.GetValue<string>()));
        Assert.Single(ids.Distinct());
        Assert.Equal(9, answers.Count(Replayed));
        Assert.Equal(1, await BoxesRequestedBy(orgId));
    }

    [Fact]
    public async Task The_same_key_with_another_body_or_route_is_a_conflict_naming_the_key_and_creates_nothing()
    {
        var (http, orgId, _) = await Org();
        Assert.Equal(HttpStatusCode.Accepted, (await Post(http, "/v1/browsers", BrowserBody, "reused")).StatusCode);

        var otherBody = await Post(http, "/v1/browsers", """{"weight":"heavy"}""", "reused");
        var otherRoute = await Post(http, "/v1/sandboxes", BrowserBody, "reused");

        foreach (var res in new[] { otherBody, otherRoute })
        {
            Assert.Equal(HttpStatusCode.Conflict, res.StatusCode);
            Assert.False(Replayed(res));
            var error = await Json(res);
            Assert.Equal("CONFLICT", ErrorCode(error));
            Assert.StartsWith("Idempotency-Key:", ErrorMessage(error));
            Assert.Contains("different request", ErrorMessage(error));
        }
        Assert.Equal(1, await BoxesRequestedBy(orgId));
    }

    [Fact]
    public async Task Another_organisation_using_the_same_key_gets_its_own_box()
    {
        var (a, orgA, _) = await Org();
        var (b, orgB, _) = await Org();
        var fromA = await Post(a, "/v1/browsers", BrowserBody, "shared-key-string");
        var fromB = await Post(b, "/v1/browsers", BrowserBody, "shared-key-string");

        Assert.Equal(HttpStatusCode.Accepted, fromB.StatusCode);
        Assert.False(Replayed(fromB));
        Assert.NotEqual((await Json(fromA))["id"]!.GetValue<string>(), (await Json(fromB))["id"]!.GetValue<string>());
        Assert.Equal(1, await BoxesRequestedBy(orgA));
        Assert.Equal(1, await BoxesRequestedBy(orgB));
    }

    [Fact]
    public async Task Creates_without_a_key_are_each_their_own_and_store_nothing()
    {
        var (http, orgId, _) = await Org();
        var first = await Post(http, "/v1/browsers", BrowserBody, key: null);
        var second = await Post(http, "/v1/browsers", BrowserBody, key: null);

        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        Assert.Equal(HttpStatusCode.Accepted, second.StatusCode);
        Assert.False(Replayed(second));
        Assert.Equal(2, await BoxesRequestedBy(orgId));
        Assert.Equal(0, await KeysStoredFor(orgId));
    }

    [Fact]
    public async Task A_validation_error_is_remembered_and_replayed()
    {
        var (http, orgId, _) = await Org();
        var first = await Post(http, "/v1/browsers", """{"weight":"enormous"}""", "bad-body");
        var second = await Post(http, "/v1/browsers", """{"weight":"enormous"}""", "bad-body");

        Assert.Equal(HttpStatusCode.BadRequest, first.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, second.StatusCode);
        Assert.True(Replayed(second));
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await second.Content.ReadAsByteArrayAsync());
        Assert.Equal("VALIDATION_FAILED", ErrorCode(await Json(second)));
        Assert.Equal(0, await BoxesRequestedBy(orgId));
        Assert.Equal(1, await KeysStoredFor(orgId, "bad-body"));
    }

    public static TheoryData<string, string> MalformedKeys => new()
    {
        { new string('k', 256), "1 to 255" },
        { "tab\there", "printable ASCII" },
        { "bell\u0007", "printable ASCII" },
        { "del\u007f", "printable ASCII" },
    };

    [Theory]
    [MemberData(nameof(MalformedKeys))]
    public async Task A_malformed_key_is_refused_naming_the_header_and_creates_nothing(string key, string explained)
    {
        var (http, orgId, _) = await Org();
        var res = await Post(http, "/v1/browsers", BrowserBody, key);

        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        var error = await Json(res);
        Assert.Equal("VALIDATION_FAILED", ErrorCode(error));
        Assert.StartsWith("Idempotency-Key:", ErrorMessage(error));
        Assert.Contains(explained, ErrorMessage(error));
        Assert.Equal(0, await BoxesRequestedBy(orgId));
        Assert.Equal(0, await KeysStoredFor(orgId));
    }

    [Fact]
    public void An_empty_key_is_refused_as_Kestrel_delivers_it()
    {
        // The in-memory client drops an empty header before it reaches the API; Kestrel hands it over as one empty value.
        var error = IdempotencyFilter.Invalid(new Microsoft.Extensions.Primitives.StringValues(""));
        Assert.NotNull(error);
        Assert.Equal(400, error.Status);
        Assert.Equal("Idempotency-Key: 1 to 255 printable ASCII characters (got 0).", error.Message);
        Assert.Null(IdempotencyFilter.Invalid(new Microsoft.Extensions.Primitives.StringValues("a")));
    }

    [Fact]
    public async Task A_key_of_255_printable_characters_is_accepted_and_two_values_are_refused()
    {
        var (http, orgId, _) = await Org();
        var longest = new string('~', 254) + " ";
        Assert.Equal(HttpStatusCode.Accepted, (await Post(http, "/v1/browsers", BrowserBody, longest)).StatusCode);

        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/browsers") { Content = new StringContent(BrowserBody, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation(Header, ["one", "two"]);
        var twice = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.BadRequest, twice.StatusCode);
        Assert.StartsWith("Idempotency-Key: send one value", ErrorMessage(await Json(twice)));
        Assert.Equal(1, await BoxesRequestedBy(orgId));
    }

    [Fact]
    public async Task A_webhook_create_replayed_returns_the_same_signing_secret_and_makes_one_endpoint()
    {
        var (http, _, _) = await Org();
        const string body = """{"url":"https://hooks.example.com/idem","eventTypes":["session.ready"]}""";
        var first = await Post(http, "/v1/webhooks", body, "hook-1");
        var second = await Post(http, "/v1/webhooks", body, "hook-1");

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        Assert.True(Replayed(second));
        var secret = (await Json(first))["signingSecret"]!.GetValue<string>();
        Assert.StartsWith("whsec_", secret);
        Assert.Equal(secret, (await Json(second))["signingSecret"]!.GetValue<string>());
        Assert.Equal(1, await WebhooksOf(http));
    }

    [Fact]
    public async Task A_5xx_answer_is_not_remembered_so_the_retry_creates_once_the_service_is_back()
    {
        var (http, orgId, key) = await Org();
        const string body = """{"url":"https://hooks.example.com/after-outage","eventTypes":["session.ready"]}""";
        // The same database, but the webhooks service this replica calls is not there.
        await using (var down = host.Factory.WithWebHostBuilder(web => web.UseSetting("Webhooks:Address", $"http://127.0.0.1:{ApiHost.FreeLoopbackPort()}")))
        {
            var failed = await Post(ClientOf(down, key), "/v1/webhooks", body, "outage");
            Assert.Equal(HttpStatusCode.BadGateway, failed.StatusCode);
            Assert.Equal("UPSTREAM_UNAVAILABLE", ErrorCode(await Json(failed)));
        }
        Assert.Equal(0, await KeysStoredFor(orgId));

        var retried = await Post(http, "/v1/webhooks", body, "outage");
        Assert.Equal(HttpStatusCode.Created, retried.StatusCode);
        Assert.False(Replayed(retried));
        Assert.Equal(1, await WebhooksOf(http));
    }

    [Fact]
    public async Task A_checkout_the_platform_cannot_serve_is_not_remembered()
    {
        // This host has no payment provider: checkout answers 501, a server-side answer a retry must not be stuck with.
        var (http, orgId, _) = await Org("free");
        const string body = """{"plan":"pro","successUrl":"https://app.example.com/paid"}""";
        var first = await Post(http, "/v1/billing/checkout", body, "buy-pro");
        var second = await Post(http, "/v1/billing/checkout", body, "buy-pro");

        Assert.Equal((HttpStatusCode)501, first.StatusCode);
        Assert.Equal((HttpStatusCode)501, second.StatusCode);
        Assert.False(Replayed(second));
        Assert.Equal(0, await KeysStoredFor(orgId));
    }

    [Fact]
    public async Task A_retry_while_the_first_is_still_running_waits_then_is_told_it_is_in_progress_and_the_key_is_freed_by_the_5xx()
    {
        var (http, orgId, key) = await Org();
        const string body = """{"url":"https://hooks.example.com/slow","eventTypes":["session.ready"]}""";
        await using var slow = host.Factory.WithWebHostBuilder(web =>
        {
            web.UseSetting("Webhooks:Timeout", "00:00:03");
            web.UseSetting("Idempotency:InProgressWait", "00:00:00.3");
        });
        var client = ClientOf(slow, key);
        host.Webhooks.Mode = FakeWebhooks.Behaviour.Hang;
        try
        {
            var running = Post(client, "/v1/webhooks", body, "slow-key");
            var seen = Stopwatch.StartNew();
            while (!host.Webhooks.Requests.Any(r => r.Method == "POST" && r.Path == $"/internal/organizations/{orgId}/webhooks"))
            {
                Assert.True(seen.Elapsed < Deadline, "the first request never reached the webhooks service");
                await Task.Delay(20);
            }

            var waited = Stopwatch.StartNew();
            var retry = await Post(client, "/v1/webhooks", body, "slow-key");
            Assert.True(waited.Elapsed >= TimeSpan.FromMilliseconds(300), $"answered after {waited.Elapsed}, without waiting for the first");
            Assert.Equal(HttpStatusCode.Conflict, retry.StatusCode);
            var error = await Json(retry);
            Assert.Equal("CONFLICT", ErrorCode(error));
            Assert.StartsWith("Idempotency-Key:", ErrorMessage(error));
            Assert.Contains("in progress", ErrorMessage(error));

            Assert.Equal(HttpStatusCode.BadGateway, (await running).StatusCode);
        }
        finally
        {
            host.Webhooks.Mode = FakeWebhooks.Behaviour.Normal;
        }
        var afterwards = await Post(http, "/v1/webhooks", body, "slow-key");
        Assert.Equal(HttpStatusCode.Created, afterwards.StatusCode);
        Assert.Equal(1, await WebhooksOf(http));
    }

    [Fact]
    public async Task A_pending_key_left_by_a_crashed_process_is_taken_over_after_a_minute_but_not_before()
    {
        var (http, orgId, apiKey) = await Org();
        var hash = IdempotencyFilter.Fingerprint("POST", "/v1/browsers", "", Encoding.UTF8.GetBytes(BrowserBody));
        async Task LeavePending(string key, TimeSpan age)
        {
            await using var cmd = host.Database.DataSource.CreateCommand("""
                INSERT INTO api.idempotency_keys (organization_id, key, request_hash, reservation, state, created_at)
                VALUES ($1, $2, $3, $4, 'pending', $5)
                """);
            cmd.Parameters.Add(new NpgsqlParameter { Value = orgId });
            cmd.Parameters.Add(new NpgsqlParameter { Value = key });
            cmd.Parameters.Add(new NpgsqlParameter { Value = hash });
            cmd.Parameters.Add(new NpgsqlParameter { Value = Guid.NewGuid() });
            cmd.Parameters.Add(new NpgsqlParameter { Value = host.Clock.GetUtcNow() - age });
            await cmd.ExecuteNonQueryAsync();
        }

        await LeavePending("crashed", TimeSpan.FromSeconds(61));
        var takenOver = await Post(http, "/v1/browsers", BrowserBody, "crashed");
        Assert.Equal(HttpStatusCode.Accepted, takenOver.StatusCode);
        Assert.False(Replayed(takenOver));
        Assert.Equal(1, await BoxesRequestedBy(orgId));

        // Thirty seconds old: its request may still be running, so the retry waits (cut short here) and creates nothing.
        await LeavePending("still-running", TimeSpan.FromSeconds(30));
        await using var impatient = host.Factory.WithWebHostBuilder(web => web.UseSetting("Idempotency:InProgressWait", "00:00:00.2"));
        var refused = await Post(ClientOf(impatient, apiKey), "/v1/browsers", BrowserBody, "still-running");
        Assert.Equal(HttpStatusCode.Conflict, refused.StatusCode);
        Assert.Contains("in progress", ErrorMessage(await Json(refused)));
        Assert.Equal(1, await BoxesRequestedBy(orgId));
    }

    [Fact]
    public async Task A_retry_waits_for_the_first_request_and_answers_what_it_answered()
    {
        var (http, orgId, _) = await Org();
        var reservation = Guid.NewGuid();
        await using (var pending = host.Database.DataSource.CreateCommand("""
            INSERT INTO api.idempotency_keys (organization_id, key, request_hash, reservation, state, created_at)
            VALUES ($1, 'first-running', $2, $3, 'pending', $4)
            """))
        {
            pending.Parameters.Add(new NpgsqlParameter { Value = orgId });
            pending.Parameters.Add(new NpgsqlParameter { Value = IdempotencyFilter.Fingerprint("POST", "/v1/browsers", "", Encoding.UTF8.GetBytes(BrowserBody)) });
            pending.Parameters.Add(new NpgsqlParameter { Value = reservation });
            pending.Parameters.Add(new NpgsqlParameter { Value = host.Clock.GetUtcNow() });
            await pending.ExecuteNonQueryAsync();
        }

        // Warm: the route and the key store answer in milliseconds, so a retry that did not wait would be done well within the check below.
        Assert.Equal(HttpStatusCode.Accepted, (await Post(http, "/v1/browsers", BrowserBody, "warm-up")).StatusCode);
        var retry = Post(http, "/v1/browsers", BrowserBody, "first-running");
        Assert.NotSame(retry, await Task.WhenAny(retry, Task.Delay(TimeSpan.FromMilliseconds(300)))); // still waiting: it neither ran nor gave up
        // The first request (another API process, played here) finishes with an answer this API would never write itself.
        await using (var done = host.Database.DataSource.CreateCommand("""
            UPDATE api.idempotency_keys SET state = 'done', status_code = 202, content_type = 'application/json; charset=utf-8', body = $2
            WHERE reservation = $1
            """))
        {
            done.Parameters.Add(new NpgsqlParameter { Value = reservation });
            done.Parameters.Add(new NpgsqlParameter { Value = """{"answeredBy":"the first request"}"""u8.ToArray() });
            Assert.Equal(1, await done.ExecuteNonQueryAsync());
        }

        var answer = await retry;
        Assert.Equal(HttpStatusCode.Accepted, answer.StatusCode);
        Assert.True(Replayed(answer));
        Assert.Equal("the first request", (await Json(answer))["answeredBy"]!.GetValue<string>());
        Assert.Equal(1, await BoxesRequestedBy(orgId)); // the warm-up's
    }

    [Fact]
    public async Task A_box_create_whose_key_was_taken_over_meanwhile_rolls_back_and_makes_no_box()
    {
        var (http, orgId, _) = await Org();
        // Hold the organisation's create lock (BoxCatalog.CreateAsync takes it) so the create stops inside its transaction.
        await using var conn = await host.Database.DataSource.OpenConnectionAsync();
        await using var tx = await conn.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1, 13))", conn, tx))
        {
            hold.Parameters.Add(new NpgsqlParameter { Value = "org-boxes:" + orgId });
            await hold.ExecuteNonQueryAsync();
        }
        var create = Post(http, "/v1/browsers", BrowserBody, "taken-over");
        var seen = Stopwatch.StartNew();
        while (true)
        {
            await using var waiting = host.Database.DataSource.CreateCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock' AND wait_event = 'advisory'");
            if ((long)(await waiting.ExecuteScalarAsync())! > 0) break;
            Assert.True(seen.Elapsed < Deadline, "the create never reached the organisation's lock");
            await Task.Delay(20);
        }

        // Meanwhile another request takes the key over (as it would one pending past Idempotency:AbandonedAfter).
        await using (var takeOver = host.Database.DataSource.CreateCommand(
            "UPDATE api.idempotency_keys SET reservation = $3 WHERE organization_id = $1 AND key = $2 AND state = 'pending'"))
        {
            takeOver.Parameters.Add(new NpgsqlParameter { Value = orgId });
            takeOver.Parameters.Add(new NpgsqlParameter { Value = "taken-over" });
            takeOver.Parameters.Add(new NpgsqlParameter { Value = Guid.NewGuid() });
            Assert.Equal(1, await takeOver.ExecuteNonQueryAsync());
        }
        await tx.CommitAsync();

        var answer = await create;
        Assert.Equal(HttpStatusCode.Conflict, answer.StatusCode);
        Assert.Contains("in progress", ErrorMessage(await Json(answer)));
        Assert.Equal(0, await BoxesRequestedBy(orgId));
    }

    [Fact]
    public async Task A_key_is_forgotten_after_24_hours_and_expired_rows_are_cleaned_up()
    {
        var (http, orgId, _) = await Org();
        var started = host.Clock.Now;
        try
        {
            var first = await Json(await Post(http, "/v1/browsers", BrowserBody, "day-old"));
            host.Clock.Now = started + TimeSpan.FromHours(23);
            var withinTheDay = await Post(http, "/v1/browsers", BrowserBody, "day-old");
            Assert.True(Replayed(withinTheDay));

            host.Clock.Now = started + TimeSpan.FromHours(24) + TimeSpan.FromMinutes(1);
            // Another key first: reserving it runs the occasional cleanup, which deletes the expired row.
            Assert.Equal(HttpStatusCode.Accepted, (await Post(http, "/v1/browsers", BrowserBody, "next-day")).StatusCode);
            Assert.Equal(0, await KeysStoredFor(orgId, "day-old"));

            var afterTheDay = await Post(http, "/v1/browsers", BrowserBody, "day-old");
            Assert.Equal(HttpStatusCode.Accepted, afterTheDay.StatusCode);
            Assert.False(Replayed(afterTheDay));
            Assert.NotEqual(first["id"]!.GetValue<string>(), (await Json(afterTheDay))["id"]!.GetValue<string>());
            Assert.Equal(3, await BoxesRequestedBy(orgId));
        }
        finally
        {
            host.Clock.Now = started;
        }
    }

    [Fact]
    public async Task A_rate_limited_create_does_not_reserve_the_key_and_its_retry_creates()
    {
        var (_, orgId, key) = await Org("pro");
        await using var limited = host.Factory.WithWebHostBuilder(web =>
        {
            web.UseSetting("RateLimits:Plans:pro:Burst", "1");
            web.UseSetting("RateLimits:Plans:pro:TokensPerSecond", "1");
        });
        var http = ClientOf(limited, key);
        var deadline = Stopwatch.StartNew();
        string? refusedKey = null;
        for (var attempt = 0; refusedKey is null; attempt++)
        {
            Assert.True(deadline.Elapsed < Deadline, "never got a 429 for a create");
            // Empty the bucket (a GET refused proves it), then create at once: refused before the key is looked at.
            while ((await http.GetAsync("/v1/browsers")).StatusCode != HttpStatusCode.TooManyRequests)
                Assert.True(deadline.Elapsed < Deadline, "the bucket never emptied");
            var attemptKey = $"limited-{attempt}";
            var res = await Post(http, "/v1/browsers", BrowserBody, attemptKey);
            if (res.StatusCode == HttpStatusCode.TooManyRequests) refusedKey = attemptKey;
        }
        Assert.Equal(0, await KeysStoredFor(orgId, refusedKey));

        HttpResponseMessage retried;
        do
        {
            Assert.True(deadline.Elapsed < Deadline, "the bucket never refilled");
            await Task.Delay(100);
            retried = await Post(http, "/v1/browsers", BrowserBody, refusedKey);
        } while (retried.StatusCode == HttpStatusCode.TooManyRequests);
        Assert.Equal(HttpStatusCode.Accepted, retried.StatusCode);
        Assert.False(Replayed(retried));
        Assert.Equal(1, await KeysStoredFor(orgId, refusedKey));
    }
}
