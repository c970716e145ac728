using System.Net.WebSockets;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Testing;

namespace Boxes.Sdk.Tests;

/// <summary>The SDK against the running platform, as a customer uses it.</summary>
[Collection(nameof(PlatformCollection))]
public sealed class PlatformTests(PlatformFixture platform)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);
    private const int LaunchTimeoutMs = 60_000;

    [Fact]
    public async Task A_launched_browser_answers_a_CDP_command_over_its_cdpUrl_and_is_closed_after_the_block()
    {
        using var cloud = new BrowserCloud(platform.Options());
        string sessionId;
        await using (var browser = await cloud.LaunchAsync(new BrowserConfig { Timeout = LaunchTimeoutMs }))
        {
            sessionId = browser.SessionId;
            using var socket = new ClientWebSocket();
            using var deadline = new CancellationTokenSource(Patience);
            await socket.ConnectAsync(new Uri(browser.CdpUrl), deadline.Token);
            await socket.SendAsync("""{"id":1,"method":"Browser.getVersion"}"""u8.ToArray(), WebSocketMessageType.Text, true, deadline.Token);

            JsonObject? answer = null;
            while (answer is null)
            {
                var message = JsonNode.Parse(await ReceiveTextAsync(socket, deadline.Token))!.AsObject();
                if (message["id"]?.GetValue<int>() == 1) answer = message;
            }
            Assert.Contains("Chrome", answer["result"]!["product"]!.GetValue<string>());
        }

        var after = await cloud.GetBrowserAsync(sessionId);
        Assert.Contains(after.Status, new[] { "ending", "ended" });
    }

    [Fact]
    public async Task A_sandbox_in_an_await_using_block_that_throws_is_ended_afterwards()
    {
        using var cloud = new SandboxCloud(platform.Options());
        string? id = null;

        var thrown = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await using var sandbox = await cloud.LaunchAsync(new SandboxConfig { Runtime = "base", Timeout = LaunchTimeoutMs });
            id = sandbox.Id;
            throw new InvalidOperationException("the caller's code failed");
        });

        Assert.Equal("the caller's code failed", thrown.Message);
        Assert.NotNull(id);
        var after = await cloud.GetAsync(id);
        Assert.Contains(after.Status, new[] { "ending", "ended" });
    }

    [Fact]
    public async Task A_sandbox_runs_commands_and_code_keeps_files_pauses_resumes_and_checkpoints_a_downloadable_workspace()
    {
        using var cloud = new SandboxCloud(platform.Options());
        await using var sandbox = await cloud.LaunchAsync(new SandboxConfig { Runtime = "python", Timeout = LaunchTimeoutMs });
        Assert.Equal("ready", sandbox.Sandbox.Status);
        Assert.StartsWith("ws", sandbox.TerminalUrl);

        var echo = await sandbox.ExecAsync("echo", ["hello from the sdk"]);
        Assert.Equal(("hello from the sdk\n", 0), (echo.Stdout, echo.ExitCode));
        var piped = await sandbox.ExecAsync("cat", options: new ExecOptions { Stdin = "typed in", Env = new Dictionary<string, string> { ["X"] = "1" } });
        Assert.Equal("typed in", piped.Stdout);
        var failing = await sandbox.ExecAsync("exit 3");
        Assert.Equal(3, failing.ExitCode);

        var code = await sandbox.RunCodeAsync("print(6 * 7)");
        Assert.Equal("42\n", code.Stdout);

        await sandbox.Fs.WriteAsync("/workspace/notes/hello.txt", "héllo\n");
        Assert.Equal("héllo\n", await sandbox.Fs.ReadAsync("notes/hello.txt"));
        var bytes = Enumerable.Range(0, 256).Select(i => (byte)i).ToArray();
        await sandbox.Fs.WriteBytesAsync("/workspace/all.bin", bytes);
        Assert.Equal(bytes, await sandbox.Fs.ReadBytesAsync("/workspace/all.bin"));
        var entries = await sandbox.Fs.ListAsync();
        Assert.Contains(entries, e => e is { Name: "notes", Type: "dir" });
        Assert.Contains(entries, e => e is { Name: "all.bin", Type: "file", Size: 256 });
        var missing = await Assert.ThrowsAsync<BoxesError>(() => sandbox.Fs.ReadAsync("/workspace/nope.txt"));
        Assert.Equal(404, missing.Status);

        var paused = await sandbox.PauseAsync();
        Assert.Equal("paused", paused.Status);
        var refused = await Assert.ThrowsAsync<BoxesError>(() => sandbox.ExecAsync("true"));
        Assert.Equal((409, "CONFLICT"), (refused.Status, refused.Code));
        var resumed = await sandbox.ResumeAsync();
        Assert.Equal("ready", resumed.Status);
        Assert.Equal("42\n", (await sandbox.RunCodeAsync("print(6 * 7)")).Stdout);

        var terminal = await sandbox.TerminalAsync();
        Assert.StartsWith("ws", terminal.TerminalUrl);
        Assert.False(string.IsNullOrEmpty(terminal.Token));

        var checkpoint = await sandbox.CheckpointAsync();
        Assert.True(checkpoint.Ok);
        Assert.NotNull(checkpoint.Key);
        var artifacts = await sandbox.GetArtifactsAsync();
        Assert.Equal(checkpoint.Key, artifacts.Artifacts.CheckpointKey);
        Assert.Contains(artifacts.Artifacts.Items, a => a.Key == checkpoint.Key && a.SizeBytes > 0);

        var download = await sandbox.GetArtifactDownloadUrlAsync(checkpoint.Key);
        Assert.True(download.ExpiresAt > DateTimeOffset.UtcNow);
        using var plain = new HttpClient { Timeout = Patience };
        var archive = await plain.GetByteArrayAsync(download.Url);
        Assert.True(archive.Length > 2 && archive[0] == 0x1f && archive[1] == 0x8b, "the checkpoint is not gzip");

        var listed = await cloud.ListAsync(status: "ready");
        Assert.Contains(listed.Items, s => s.Id == sandbox.Id);
        var runtime = await sandbox.GetRuntimeAsync();
        Assert.Equal(("python", "ready"), (runtime.Runtime, runtime.Status));
    }

    [Fact]
    public async Task A_created_sandbox_takes_an_exec_before_it_is_ready_and_is_killed_by_id()
    {
        using var cloud = new SandboxCloud(platform.Options());
        var created = await cloud.CreateAsync(new SandboxConfig { Runtime = "base" });
        try
        {
            Assert.Equal("queued", created.Status);
            var result = await cloud.ExecAsync(created.Id, "echo early");
            Assert.Equal("early\n", result.Stdout);
            var ready = await cloud.WaitForReadyAsync(created.Id, LaunchTimeoutMs);
            Assert.Equal("ready", ready.Status);
        }
        finally
        {
            await cloud.KillAsync(created.Id);
        }
        var ended = await Eventually.Until(() => cloud.GetAsync(created.Id), s => s.Status == "ended", Patience, "the sandbox to end");
        Assert.NotNull(ended.EndedAt);
    }

    [Fact]
    public async Task Unbuilt_sandbox_features_surface_as_501_NOT_IMPLEMENTED()
    {
        using var cloud = new SandboxCloud(platform.Options());
        var created = await cloud.CreateAsync(new SandboxConfig { Runtime = "base" });
        try
        {
            var preview = await Assert.ThrowsAsync<BoxesError>(() => cloud.GetPreviewAsync(created.Id));
            Assert.Equal((501, "NOT_IMPLEMENTED"), (preview.Status, preview.Code));
            var prompt = await Assert.ThrowsAsync<BoxesError>(() => cloud.PromptAsync(created.Id, "hello"));
            Assert.Equal((501, "NOT_IMPLEMENTED"), (prompt.Status, prompt.Code));
        }
        finally
        {
            await cloud.KillAsync(created.Id);
        }
    }

    [Fact]
    public async Task Webhooks_are_created_listed_read_tested_logged_rotated_and_deleted()
    {
        await using var receiver = await WebhookReceiver.StartAsync();
        using var cloud = new BrowserCloud(platform.Options());

        var webhook = await cloud.CreateWebhookAsync(new CreateWebhookRequest { Url = receiver.Url, EventTypes = ["session.ready", "session.ended"] });
        Assert.StartsWith("whsec_", webhook.SigningSecret);
        Assert.Equal(["session.ready", "session.ended"], webhook.EventTypes);

        Assert.Contains(await cloud.ListWebhooksAsync(), w => w.Id == webhook.Id);
        var read = await cloud.GetWebhookAsync(webhook.Id);
        Assert.Equal((receiver.Url, "active"), (read.Url, read.Status));
        Assert.Null(read.SigningSecret);

        var test = await cloud.TestWebhookAsync(webhook.Id);
        await receiver.WaitFor(d => d.Body.Contains("webhook.test"), Patience, "the test delivery to arrive");
        var deliveries = await Eventually.Until(() => cloud.ListWebhookDeliveriesAsync(webhook.Id, limit: 10),
            page => page.Items.Any(d => d.DeliveryId == test.DeliveryId && d.Attempts.Count > 0), Patience, "the delivery's attempt to be logged");
        var delivery = deliveries.Items.Single(d => d.DeliveryId == test.DeliveryId);
        Assert.Equal("webhook.test", delivery.Type);
        Assert.Equal(200, delivery.Attempts[0].StatusCode);

        var rotation = await cloud.RotateWebhookSecretAsync(webhook.Id);
        Assert.StartsWith("whsec_", rotation.SigningSecret);
        Assert.NotEqual(webhook.SigningSecret, rotation.SigningSecret);

        await cloud.DeleteWebhookAsync(webhook.Id);
        var gone = await Assert.ThrowsAsync<BoxesError>(() => cloud.GetWebhookAsync(webhook.Id));
        Assert.Equal(404, gone.Status);
    }

    [Fact]
    public async Task Usage_billing_and_the_usage_feed_parse()
    {
        using var cloud = new BrowserCloud(platform.Options());

        var usage = await cloud.GetUsageAsync();
        Assert.True(usage.Period.From < usage.Period.To);
        Assert.True(usage.TotalVcpuSeconds >= 0 && usage.TotalSessions >= 0);
        var lastMonth = await cloud.GetUsageAsync(DateTimeOffset.UtcNow.AddDays(-30), DateTimeOffset.UtcNow);
        Assert.True(lastMonth.Period.To - lastMonth.Period.From <= TimeSpan.FromDays(30.01));

        var billing = await cloud.GetBillingAsync();
        Assert.Equal("pro", billing.Plan);
        Assert.True(billing.Limits.ConcurrentBoxes > 0);
        Assert.True(billing.Limits.Features.Stealth);
        Assert.True(billing.CurrentPeriod.Start < billing.CurrentPeriod.End);

        var ndjson = await cloud.ExportUsageAsync(limit: 5);
        Assert.Contains("ndjson", ndjson.ContentType);
        Assert.False(string.IsNullOrEmpty(ndjson.NextCursor));
        Assert.Equal(ndjson.Body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length, ndjson.Records.Count);
        var csv = await cloud.ExportUsageAsync(format: "csv", limit: 5);
        Assert.StartsWith("id,organizationId,boxId", csv.Body);
        Assert.Empty(csv.Records);
    }

    [Fact]
    public async Task Checkout_without_a_payment_provider_is_501_NOT_IMPLEMENTED()
    {
        using var cloud = new BrowserCloud(platform.Options());

        var error = await Assert.ThrowsAsync<BoxesError>(() =>
            cloud.CreateCheckoutAsync(new CheckoutRequest { Plan = "enterprise", SuccessUrl = "https://app.example/billing/ok" }));

        Assert.Equal((501, "NOT_IMPLEMENTED"), (error.Status, error.Code));
    }

    [Fact]
    public async Task Stealth_on_a_free_organisation_is_PLAN_FEATURE_UNAVAILABLE_naming_both_plans()
    {
        using var cloud = new BrowserCloud(platform.Options(await platform.CreateOrganizationAsync("free")));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.LaunchAsync(new BrowserConfig { Stealth = true }));

        Assert.Equal((403, "PLAN_FEATURE_UNAVAILABLE"), (error.Status, error.Code));
        Assert.Equal(("builder", "free"), (error.RequiredPlan, error.CurrentPlan));
        Assert.Empty((await cloud.ListBrowsersAsync()).Items);
    }

    [Fact]
    public async Task A_create_retried_after_its_answer_was_lost_makes_exactly_one_box()
    {
        var dropping = new DropFirstAnswerHandler(new SocketsHttpHandler());
        using var cloud = new SandboxCloud(platform.Options(await platform.CreateOrganizationAsync("pro"), dropping));

        var created = await cloud.CreateAsync(new SandboxConfig { Runtime = "base" });
        try
        {
            Assert.Equal(1, dropping.Dropped);
            Assert.Equal(2, dropping.Creates);
            var boxes = await cloud.ListAsync();
            var only = Assert.Single(boxes.Items);
            Assert.Equal(created.Id, only.Id);
        }
        finally
        {
            foreach (var box in (await cloud.ListAsync()).Items) await cloud.KillAsync(box.Id);
            dropping.Dispose();
        }
    }

    private static async Task<string> ReceiveTextAsync(ClientWebSocket socket, CancellationToken cancellationToken)
    {
        var buffer = new byte[64 * 1024];
        using var message = new MemoryStream();
        while (true)
        {
            var part = await socket.ReceiveAsync(buffer, cancellationToken);
            if (part.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException($"CDP closed: {part.CloseStatus} {part.CloseStatusDescription}");
            message.Write(buffer, 0, part.Count);
            if (part.EndOfMessage) return Encoding.UTF8.GetString(message.ToArray());
        }
    }

    /// <summary>
    /// Sends the first create to the API, throws its answer away and fails as a dropped connection would: the box was
    /// made, the client does not know. The SDK's retry must come back with the same Idempotency-Key.
    /// </summary>
    private sealed class DropFirstAnswerHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        private int _creates;
        private int _dropped;

        public int Creates => Volatile.Read(ref _creates);
        public int Dropped => Volatile.Read(ref _dropped);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var response = await base.SendAsync(request, cancellationToken);
            if (request.Method != HttpMethod.Post || request.RequestUri!.AbsolutePath != "/v1/sandboxes") return response;
            if (Interlocked.Increment(ref _creates) > 1) return response;
            Interlocked.Increment(ref _dropped);
            response.Dispose();
            throw new HttpRequestException(HttpRequestError.ResponseEnded, "The connection closed before the answer arrived (dropped by the test).");
        }
    }
}
