using System.Text.Json.Nodes;
using Boxes.Testing;
using Xunit;

namespace Boxes.Cli.Tests;

/// <summary>boxes webhooks, usage and billing against the running platform.</summary>
[Collection(PlatformCollection.Name)]
public sealed class AccountCliTests(PlatformFixture platform)
{
    [Fact]
    public async Task Webhooks_create_shows_the_secret_once_then_ls_test_deliveries_and_rm_work()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        var created = await platform.JsonAsync("webhooks", "create", "--url", receiver.Url, "--event", "sandbox.ready", "--event", "sandbox.ended");
        var id = created["id"]!.GetValue<string>();
        Assert.StartsWith("whsec_", created["signingSecret"]!.GetValue<string>());
        Assert.Equal(["sandbox.ready", "sandbox.ended"], created["eventTypes"]!.AsArray().Select(e => e!.GetValue<string>()));

        var listed = await platform.JsonAsync("webhooks", "ls");
        Assert.Contains(listed["items"]!.AsArray(), w => w!["id"]!.GetValue<string>() == id);
        var got = await platform.JsonAsync("webhooks", "get", id);
        Assert.Null(got["signingSecret"]);

        var test = await platform.JsonAsync("webhooks", "test", id);
        var deliveryId = test["deliveryId"]!.GetValue<string>();
        await receiver.WaitFor(d => d.Body.Contains("webhook.test"), TimeSpan.FromSeconds(30), "the webhook.test delivery to arrive");
        await Eventually.Until(async () => (await platform.JsonAsync("webhooks", "deliveries", id))["items"]!.AsArray(),
            items => items.Any(d => d!["deliveryId"]!.GetValue<string>() == deliveryId && d["status"]!.GetValue<string>() == "succeeded"),
            TimeSpan.FromSeconds(30), "the delivery to be logged as succeeded");

        var rotated = await platform.JsonAsync("webhooks", "rotate-secret", id);
        Assert.StartsWith("whsec_", rotated["signingSecret"]!.GetValue<string>());

        var removed = await platform.RunAsync("webhooks", "rm", id);
        Assert.True(removed.ExitCode == 0, removed.ToString());
        var gone = await platform.RunAsync("webhooks", "get", id, "--json");
        Assert.True(gone.ExitCode == 1, gone.ToString());
        Assert.Equal("NOT_FOUND", gone.Json()["error"]!["code"]!.GetValue<string>());
    }

    [Fact]
    public async Task Usage_and_billing_write_the_api_objects_as_json()
    {
        var from = DateTimeOffset.UtcNow.AddDays(-30).Date;
        var usage = await platform.JsonAsync("usage", "--from", from.ToString("yyyy-MM-dd"));
        Assert.NotNull(usage["totalVcpuSeconds"]);
        Assert.NotNull(usage["byKind"]!["sandbox"]);
        Assert.Equal(new DateTimeOffset(from, TimeSpan.Zero), DateTimeOffset.Parse(usage["period"]!["from"]!.GetValue<string>()));

        var billing = await platform.JsonAsync("billing");
        Assert.Equal("pro", billing["plan"]!.GetValue<string>());
        Assert.Equal(50, billing["limits"]!["concurrentBoxes"]!.GetValue<int>());

        var export = await platform.JsonAsync("usage", "export");
        Assert.IsType<JsonArray>(export["records"]);
        Assert.True(export.AsObject().ContainsKey("cursor"));

        var people = await platform.RunAsync("billing");
        Assert.True(people.ExitCode == 0, people.ToString());
        Assert.Contains("pro", people.Stdout);
    }

    [Fact]
    public async Task Usage_export_writes_the_page_to_stdout_and_the_cursor_to_stderr()
    {
        var result = await platform.RunAsync("usage", "export", "--format", "csv");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.StartsWith("id,", result.Stdout);
        Assert.False(string.IsNullOrWhiteSpace(result.Stderr));
        var again = await platform.RunAsync("usage", "export", "--format", "csv", "--after", result.Stderr.Trim());
        Assert.True(again.ExitCode == 0, again.ToString());
    }
}
