using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using Boxes.Api.Auth;
using Boxes.Testing;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Xunit;
using static Boxes.Api.Tests.TenancyHelpers;

namespace Boxes.Api.Tests;

/// <summary>
/// One database and broker, three API processes on it, as replicas behind a balancer would be: the default one
/// (<see cref="ApiHost"/>), one with tight per-key limits (a burst of <see cref="Burst"/>, one token a second; the
/// <c>builder</c> plan a burst of 1), and one where an operator switched the limits off.
/// </summary>
public sealed class ApiReplicas : IAsyncLifetime
{
    public const int Burst = 3;

    public ApiHost Host { get; } = new();
    public WebApplicationFactory<Program> Limited { get; private set; } = null!;
    public WebApplicationFactory<Program> Unlimited { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Host.InitializeAsync();
        Limited = Host.Factory.WithWebHostBuilder(web =>
        {
            web.UseSetting("RateLimits:TokensPerSecond", "1");
            web.UseSetting("RateLimits:Burst", Burst.ToString(System.Globalization.CultureInfo.InvariantCulture));
            web.UseSetting("RateLimits:Plans:builder:Burst", "1");
        });
        Unlimited = Host.Factory.WithWebHostBuilder(web =>
        {
            web.UseSetting("RateLimits:Enabled", "false");
            web.UseSetting("RateLimits:TokensPerSecond", "1");
            web.UseSetting("RateLimits:Burst", "1");
        });
        _ = Limited.Server; // started here: migrations and the bus, as on any replica
        _ = Unlimited.Server;
    }

    public static HttpClient Client(WebApplicationFactory<Program> api, string key)
    {
        var http = api.CreateClient();
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    public async Task DisposeAsync()
    {
        await Limited.DisposeAsync();
        await Unlimited.DisposeAsync();
        await Host.DisposeAsync();
    }
}

/// <summary>Revocation at once on every replica, and the per-key token bucket: 429 RATE_LIMITED with Retry-After, per key, recovering.</summary>
public sealed class KeyLimitTests(ApiReplicas replicas) : IClassFixture<ApiReplicas>
{
    private ApiHost Host => replicas.Host;

    /// <summary>
    /// Spends the key's bucket: at least <paramref name="burst"/> requests pass, then one is refused (a slow machine may
    /// see a token refilled on the way, hence "at least"). Returns the refusal.
    /// </summary>
    private static async Task<HttpResponseMessage> ExhaustBurst(HttpClient http, int burst = ApiReplicas.Burst)
    {
        var passed = 0;
        while (true)
        {
            var res = await http.GetAsync("/v1/browsers");
            if (res.StatusCode != HttpStatusCode.OK)
            {
                Assert.True(passed >= burst, $"refused with {(int)res.StatusCode} after only {passed} requests; the burst is {burst}");
                return res;
            }
            Assert.True(++passed <= burst * 3, $"{passed} requests passed; the burst is {burst} and one token comes a second");
        }
    }

    [Fact]
    public async Task A_revoked_key_is_refused_on_its_very_next_request_by_every_replica()
    {
        var (orgId, _) = await Host.CreateOrganization();
        var (keyId, key) = await CreateKey(Host, orgId, Permissions.BrowsersRead);
        var one = Host.Client(key);
        var two = ApiReplicas.Client(replicas.Unlimited, key);
        Assert.Equal(HttpStatusCode.OK, (await one.GetAsync("/v1/browsers")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await two.GetAsync("/v1/browsers")).StatusCode);

        var revoked = await Host.Client(ApiHost.AdminKey).DeleteAsync($"/v1/admin/keys/{keyId}");
        Assert.Equal(HttpStatusCode.OK, revoked.StatusCode);
        foreach (var http in new[] { two, one })
        {
            var res = await http.GetAsync("/v1/browsers");
            Assert.Equal(HttpStatusCode.Unauthorized, res.StatusCode);
            Assert.Equal("UNAUTHENTICATED", ErrorCode(await Json(res)));
        }
        // Revoking one key leaves the organisation's others working; revoking again is still a success, an unknown key is 404.
        var (_, other) = await CreateKey(Host, orgId);
        Assert.Equal(HttpStatusCode.OK, (await Host.Client(other).GetAsync("/v1/browsers")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await Host.Client(ApiHost.AdminKey).DeleteAsync($"/v1/admin/keys/{keyId}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await Host.Client(ApiHost.AdminKey).DeleteAsync($"/v1/admin/keys/{Guid.NewGuid()}")).StatusCode);
    }

    [Fact]
    public async Task After_the_burst_a_key_gets_429_rate_limited_with_retry_after_and_recovers()
    {
        var (_, key) = await Host.CreateOrganization();
        var http = ApiReplicas.Client(replicas.Limited, key);
        var limited = await ExhaustBurst(http);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
        var body = await Json(limited);
        Assert.Equal("RATE_LIMITED", ErrorCode(body));
        Assert.Contains("retry after 1 s", ErrorMessage(body));
        Assert.Equal("1", Assert.Single(limited.Headers.GetValues("Retry-After")));

        // One token a second: within a couple of seconds the key works again (a refused request spends nothing).
        await Eventually.Until(async () => (await http.GetAsync("/v1/browsers")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(5), "the key's bucket to refill");
    }

    [Fact]
    public async Task The_limit_is_per_key_so_another_key_of_the_same_organisation_is_unaffected()
    {
        var (orgId, key) = await Host.CreateOrganization();
        var (_, second) = await CreateKey(Host, orgId);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await ExhaustBurst(ApiReplicas.Client(replicas.Limited, key))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await ApiReplicas.Client(replicas.Limited, second).GetAsync("/v1/browsers")).StatusCode);
        // Nor does one replica's bucket spend another's: the limit is per API process.
        Assert.Equal(HttpStatusCode.OK, (await Host.Client(key).GetAsync("/v1/browsers")).StatusCode);
    }

    [Fact]
    public async Task A_rate_limited_request_changes_nothing()
    {
        var (_, key) = await Host.CreateOrganization();
        var http = ApiReplicas.Client(replicas.Limited, key);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await ExhaustBurst(http)).StatusCode);
        var events = await Host.CountEvents();
        var refused = await http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "python" });
        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal(events, await Host.CountEvents());
    }

    [Fact]
    public async Task A_plans_override_applies_to_the_keys_of_that_plan_only()
    {
        var (_, builderKey) = await Host.CreateOrganization("builder"); // RateLimits:Plans:builder:Burst = 1
        var builder = ApiReplicas.Client(replicas.Limited, builderKey);
        var res = await ExhaustBurst(builder, burst: 1);
        Assert.Equal(HttpStatusCode.TooManyRequests, res.StatusCode);
        Assert.Contains("at most 1 at once", ErrorMessage(await Json(res)));
    }

    [Fact]
    public async Task Requests_without_a_valid_key_are_not_counted_against_anyone_and_the_token_routes_are_never_limited()
    {
        var (_, key) = await Host.CreateOrganization();
        var http = ApiReplicas.Client(replicas.Limited, key);
        Assert.Equal(HttpStatusCode.TooManyRequests, (await ExhaustBurst(http)).StatusCode);
        // The socket routes carry a token, not the key: a limited key's holder still reaches them (here to be told the token is bad).
        var socket = await http.GetAsync($"/v1/browsers/{Guid.NewGuid()}/cdp?token=nonsense");
        Assert.Equal(HttpStatusCode.Unauthorized, socket.StatusCode);
        var unknown = ApiReplicas.Client(replicas.Limited, "br_live_" + new string('z', 40));
        for (var i = 0; i < ApiReplicas.Burst + 2; i++)
            Assert.Equal(HttpStatusCode.Unauthorized, (await unknown.GetAsync("/v1/browsers")).StatusCode);
    }

    [Fact]
    public async Task With_limits_switched_off_no_key_is_limited()
    {
        var (_, key) = await Host.CreateOrganization();
        var http = ApiReplicas.Client(replicas.Unlimited, key); // Enabled=false, although Burst=1
        for (var i = 0; i < 20; i++)
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/v1/browsers")).StatusCode);
    }

    [Theory]
    [InlineData("RateLimits:TokensPerSecond", "0")]
    [InlineData("RateLimits:Burst", "-1")]
    [InlineData("RateLimits:Plans:free:Burst", "0")]
    public void A_limit_below_one_is_refused_naming_the_settings(string setting, string value)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new());
        builder.Configuration.AddInMemoryCollection([new(setting, value)]);
        builder.AddKeyRateLimits();
        using var services = builder.Services.BuildServiceProvider();
        var refused = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => services.GetRequiredService<Microsoft.Extensions.Options.IOptions<RateLimitOptions>>().Value);
        Assert.Contains("RateLimits:TokensPerSecond and RateLimits:Burst", refused.Message);
    }
}
