using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Boxes.Webhooks.Tests.Infrastructure;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>The allow-list names only 127.0.0.2: 127.0.0.1 (and every other private address) is refused like any private address.</summary>
public sealed class GuardHost : WebhooksHost
{
    protected override void Configure(IDictionary<string, string?> settings) =>
        settings["Webhooks:AllowedHosts"] = "127.0.0.2/32";
}

/// <summary>The SSRF guard on create (VALIDATION_FAILED naming url) and again at connect time, where a name that now resolves elsewhere is refused.</summary>
public sealed class ConnectTimeGuardTests(GuardHost host) : IClassFixture<GuardHost>
{
    public static TheoryData<string> RefusedUrls() =>
    [
        "http://127.0.0.1/", "http://localhost/", "http://2130706433/", "http://0x7f000001/", "http://0177.0.0.1/",
        "http://127.1/", "http://0x7f.1/", "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://[::ffff:7f00:1]/",
        "http://10.0.0.1/", "http://172.16.5.4/", "http://192.168.1.1/", "http://100.64.0.1/", "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/", "http://[fe80::1]/", "http://[fc00::1]/", "http://0.0.0.0/", "http://[::]/", "http://224.0.0.1/",
        "http://255.255.255.255/", "http://198.18.0.1/", "http://[64:ff9b::a9fe:a9fe]/", "https://127.0.0.3:8443/hook",
        "ftp://127.0.0.2/", "file:///etc/passwd", "http://user:pw@127.0.0.2/", "not a url", "",
    ];

    [Theory]
    [MemberData(nameof(RefusedUrls))]
    public async Task Creating_a_webhook_for_a_refused_url_fails_with_VALIDATION_FAILED_naming_url(string url)
    {
        var org = Guid.NewGuid();
        var res = await host.Client().PostAsJsonAsync($"/internal/organizations/{org}/webhooks", new { url, eventTypes = new[] { "session.ready" } });
        var body = JsonNode.Parse(await res.Content.ReadAsStringAsync())!;
        Assert.Equal(HttpStatusCode.BadRequest, res.StatusCode);
        Assert.Equal("VALIDATION_FAILED", body["error"]!["code"]!.GetValue<string>());
        Assert.StartsWith("url:", body["error"]!["message"]!.GetValue<string>());
        Assert.Empty((await host.GetJson($"/internal/organizations/{org}/webhooks"))["items"]!.AsArray());
    }

    [Fact]
    public async Task An_allow_listed_address_is_accepted_and_reached()
    {
        await using var receiver = await ScriptedWebhookReceiver.StartAsync(IPAddress.Parse("127.0.0.2"));
        var org = Guid.NewGuid();
        var webhook = await host.CreateWebhook(org, receiver.Url("allowed"), "session.ready");
        await host.SendTest(org, webhook.Id);
        Assert.Single(await receiver.WaitFor("allowed", 1));
    }

    [Fact]
    public async Task A_name_that_resolves_to_a_refused_address_at_connect_time_is_never_connected_to()
    {
        // Two receivers on one port: the allowed 127.0.0.2 and the refused 127.0.0.1.
        await using var allowed = await ScriptedWebhookReceiver.StartAsync(IPAddress.Parse("127.0.0.2"));
        await using var refused = await ScriptedWebhookReceiver.StartAsync(IPAddress.Loopback, allowed.Port);
        var org = Guid.NewGuid();
        host.Resolver.Set("rebind.test", IPAddress.Parse("127.0.0.2"));
        var webhook = await host.CreateWebhook(org, $"http://rebind.test:{allowed.Port}/hook", "session.ready");

        // The name now answers with a refused address (DNS rebinding).
        host.Resolver.Set("rebind.test", IPAddress.Parse("127.0.0.1"));
        var deliveryId = await host.SendTest(org, webhook.Id);
        var delivery = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Status(d) == "failed", "every attempt to be refused");

        Assert.All(WebhooksHost.Attempts(delivery), a =>
        {
            Assert.Null(a!["statusCode"]);
            Assert.Contains("Refused by the SSRF guard: rebind.test resolves to 127.0.0.1", a["error"]!.GetValue<string>());
        });
        Assert.Empty(refused.Received("hook"));
        Assert.Empty(allowed.Received("hook"));

        // And back on the checked address, the same endpoint is reached.
        host.Resolver.Set("rebind.test", IPAddress.Parse("127.0.0.2"));
        await host.PostJson($"/internal/organizations/{org}/webhooks/{webhook.Id}/deliveries/{deliveryId}/replay", HttpStatusCode.Accepted);
        Assert.Single(await allowed.WaitFor("hook", 1));
        Assert.Empty(refused.Received("hook"));
    }

    [Fact]
    public async Task A_real_name_resolving_to_loopback_is_refused_at_connect_time_too()
    {
        // Created while the name pointed at an allowed address; the system resolver then answers for localhost.
        await using var refused = await ScriptedWebhookReceiver.StartAsync(IPAddress.Loopback);
        var org = Guid.NewGuid();
        host.Resolver.Set("localhost", IPAddress.Parse("127.0.0.2"));
        var webhook = await host.CreateWebhook(org, $"http://localhost:{refused.Port}/hook", "session.ready");
        host.Resolver.Set("localhost", (await Dns.GetHostAddressesAsync("localhost")).ToArray());

        var deliveryId = await host.SendTest(org, webhook.Id);
        var delivery = await host.WaitForDelivery(org, webhook.Id, deliveryId, d => WebhooksHost.Attempts(d).Count >= 1, "a refused attempt");
        Assert.Contains("Refused by the SSRF guard", WebhooksHost.Attempts(delivery)[0]!["error"]!.GetValue<string>());
        Assert.Empty(refused.Received("hook"));
    }
}
