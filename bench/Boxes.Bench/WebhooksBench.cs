using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Boxes.Testing;

/// <summary>
/// Webhooks: how long from a lifecycle event to its delivery at a loopback receiver (a sandbox's create call to its
/// <c>sandbox.ready</c> arriving; the test route's call to its <c>webhook.test</c> arriving), and how many deliveries
/// per second the webhooks service makes to 10 endpoints. Runs in an organisation of its own (made with the operator
/// key) so that no other box on the platform is delivered to its receivers, and deletes its webhooks at the end: their
/// receivers go away with the bench, and the service would otherwise keep retrying them for days.
/// </summary>
internal sealed class WebhooksBench(Uri apiUrl, string apiKey, string? adminKey, Func<Task> settle)
{
    private const int Endpoints = 10;
    private const int TestsPerEndpoint = 50;
    private const int BurstSandboxes = 10;
    /// <summary>A box's life as its webhooks see it, with nothing paused: queued, ready, ended.</summary>
    private const int EventsPerSandbox = 3;
    /// <summary>Test calls in flight at once: enough to keep the service busy without measuring the API's accept queue.</summary>
    private const int FireConcurrency = 32;
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(120);
    // The subscription of the 10 endpoints: webhook.test and every sandbox type (sandbox.*, spelled out: the contract names types, not patterns).
    private static readonly string[] Subscription =
        ["webhook.test", "sandbox.queued", "sandbox.ready", "sandbox.ended", "sandbox.failed", "sandbox.paused", "sandbox.resumed"];

    // Arrivals are stamped with Stopwatch ticks; this pair turns them into wall-clock time to compare with a box's readyAt.
    private readonly DateTimeOffset _wallAtStart = DateTimeOffset.UtcNow;
    private readonly long _ticksAtStart = Stopwatch.GetTimestamp();
    private readonly List<(HttpClient Http, string Id)> _webhooks = [];
    private readonly List<WebhookReceiver> _receivers = [];

    public async Task RunAsync(int samples)
    {
        using var http = await OrganizationAsync();
        try
        {
            // The test route first: it needs no worker, so its figures come even where boxes cannot start.
            var (receiver, webhook) = await LatencyReceiverAsync(http);
            await TestLatencyAsync(http, receiver, webhook, samples);
            var fleet = await FleetAsync(http);
            await TestThroughputAsync(http, fleet);
            await SandboxLatencyAsync(http, receiver, samples);
            await SandboxThroughputAsync(http, fleet);
        }
        finally
        {
            foreach (var (client, id) in _webhooks) await client.DeleteAsync($"/v1/webhooks/{id}");
            foreach (var receiver in _receivers) await receiver.DisposeAsync();
        }
    }

    /// <summary>One endpoint subscribed to sandbox.ready (test events come whatever the subscription).</summary>
    private async Task<(WebhookReceiver Receiver, string Webhook)> LatencyReceiverAsync(HttpClient http)
    {
        var receiver = await ReceiverAsync(http, "sandbox.ready");
        return (receiver, _webhooks[^1].Id);
    }

    private async Task TestLatencyAsync(HttpClient http, WebhookReceiver receiver, string webhook, int samples)
    {
        await TestToDeliveredAsync(http, receiver, webhook); // warm-up: JIT and connection pools on every hop, the receiver's included
        var fromTest = new List<double>();
        for (var i = 0; i < samples; i++) fromTest.Add(await TestToDeliveredAsync(http, receiver, webhook));
        Stats.Report($"webhooks: test route call → webhook.test delivered ({samples}, one at a time)", fromTest);
    }

    private async Task SandboxLatencyAsync(HttpClient http, WebhookReceiver receiver, int samples)
    {
        await CreateToReadyDeliveredAsync(http, receiver); // warm-up
        var fromCreate = new List<double>();
        var fromReady = new List<double>();
        for (var i = 0; i < samples; i++)
        {
            var (create, ready) = await CreateToReadyDeliveredAsync(http, receiver);
            fromCreate.Add(create);
            fromReady.Add(ready);
        }
        Stats.Report($"webhooks: sandbox create → sandbox.ready delivered ({samples}, one at a time on a settled platform)", fromCreate);
        Stats.Report("  of which readyAt (BoxReady recorded) → delivered", fromReady);
    }

    private async Task<double> TestToDeliveredAsync(HttpClient http, WebhookReceiver receiver, string webhook)
    {
        var before = receiver.Received.Count(d => d.Type == "webhook.test");
        var start = Stopwatch.GetTimestamp();
        await ExpectAsync(await http.PostAsync($"/v1/webhooks/{webhook}/test", null), "test");
        var arrived = (await receiver.WaitForCount(d => d.Type == "webhook.test", before + 1, Deadline, "webhook.test"))[before];
        return Stopwatch.GetElapsedTime(start, arrived.ArrivedAt).TotalMilliseconds;
    }

    /// <summary>Create → its sandbox.ready delivered, and readyAt → delivered; then the sandbox is closed and the platform left to settle.</summary>
    private async Task<(double FromCreate, double FromReady)> CreateToReadyDeliveredAsync(HttpClient http, WebhookReceiver receiver)
    {
        await settle();
        var start = Stopwatch.GetTimestamp();
        var id = await CreateSandboxAsync(http);
        var arrived = await receiver.WaitFor(d => d.Type == "sandbox.ready" && d.BoxId == id, Deadline, $"sandbox.ready of {id}");
        var record = (await http.GetFromJsonAsync<JsonObject>($"/v1/sandboxes/{id}"))!;
        var readyAt = DateTimeOffset.Parse(record["readyAt"]!.GetValue<string>(), System.Globalization.CultureInfo.InvariantCulture);
        await CloseSandboxAsync(http, id);
        return (Stopwatch.GetElapsedTime(start, arrived.ArrivedAt).TotalMilliseconds, (WallClock(arrived.ArrivedAt) - readyAt).TotalMilliseconds);
    }

    /// <summary>The 10 endpoints of the throughput runs, each with its own receiver.</summary>
    private async Task<List<WebhookReceiver>> FleetAsync(HttpClient http)
    {
        var fleet = new List<WebhookReceiver>();
        for (var i = 0; i < Endpoints; i++) fleet.Add(await ReceiverAsync(http, Subscription));
        return fleet;
    }

    /// <summary>Test events: nothing but the delivery path (fan-in through the API, the service's queue, signing, HTTP).</summary>
    private async Task TestThroughputAsync(HttpClient http, List<WebhookReceiver> fleet)
    {
        var ids = _webhooks[^Endpoints..].Select(w => w.Id).ToList();
        var tests = Endpoints * TestsPerEndpoint;
        var start = Stopwatch.GetTimestamp();
        using (var gate = new SemaphoreSlim(FireConcurrency))
        {
            await Task.WhenAll(ids.SelectMany(id => Enumerable.Repeat(id, TestsPerEndpoint)).Select(async id =>
            {
                await gate.WaitAsync();
                try { await ExpectAsync(await http.PostAsync($"/v1/webhooks/{id}/test", null), "test"); }
                finally { gate.Release(); }
            }));
        }
        var fired = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        var delivered = await AllArrivedAsync(fleet, d => d.Type == "webhook.test", TestsPerEndpoint, "webhook.test");
        var seconds = Stopwatch.GetElapsedTime(start, delivered.Max(d => d.ArrivedAt)).TotalSeconds;
        // Deliveries cannot outrun the calls that make them: the drain after the last call says whether the service kept up.
        Console.WriteLine($"webhooks: {tests} webhook.test events to {Endpoints} endpoints ({FireConcurrency} test calls in flight, all answered after {fired:0} ms): " +
                          $"all delivered after {seconds * 1000:0} ms ({seconds * 1000 - fired:0} ms after the last call), {tests / seconds:0} deliveries/s");
    }

    /// <summary>Lifecycle events: sandboxes created at once, each closed once it answered; every event fans out to all 10 endpoints.</summary>
    private async Task SandboxThroughputAsync(HttpClient http, List<WebhookReceiver> fleet)
    {
        await settle();
        var start = Stopwatch.GetTimestamp();
        var sandboxes = await Task.WhenAll(Enumerable.Range(0, BurstSandboxes).Select(async _ =>
        {
            var id = await CreateSandboxAsync(http);
            await CloseSandboxAsync(http, id);
            return id;
        }));
        var boxes = sandboxes.ToHashSet();
        var delivered = await AllArrivedAsync(fleet, d => d.BoxId is { } box && boxes.Contains(box), BurstSandboxes * EventsPerSandbox, "sandbox events");
        var seconds = Stopwatch.GetElapsedTime(start, delivered.Max(d => d.ArrivedAt)).TotalSeconds;
        Console.WriteLine($"webhooks: {BurstSandboxes} sandboxes created and closed at once → {delivered.Count} deliveries ({EventsPerSandbox} events × " +
                          $"{Endpoints} endpoints each): all delivered after {seconds * 1000:0} ms, {delivered.Count / seconds:0} deliveries/s (bound by the boxes' own lifecycle)");
    }

    /// <summary>Waits until every receiver has <paramref name="each"/> deliveries matching <paramref name="match"/>; says so if any came twice.</summary>
    private static async Task<List<WebhookReceiver.Delivery>> AllArrivedAsync(List<WebhookReceiver> fleet, Func<WebhookReceiver.Delivery, bool> match,
        int each, string what)
    {
        await Eventually.Until(() => fleet.All(r => r.Received.Count(match) >= each), Deadline, $"{each} {what} deliveries at each of {fleet.Count} endpoints");
        var all = fleet.SelectMany(r => r.Received.Where(match)).ToList();
        var repeats = all.Count - all.Select(d => d.WebhookId).Distinct().Count();
        if (repeats > 0) Console.WriteLine($"  note: {repeats} of the {what} deliveries were repeats of a webhook-id (retries)");
        return all;
    }

    private async Task<WebhookReceiver> ReceiverAsync(HttpClient http, params string[] eventTypes)
    {
        var receiver = await WebhookReceiver.StartAsync();
        _receivers.Add(receiver);
        var res = await http.PostAsJsonAsync("/v1/webhooks", new { url = receiver.Url, eventTypes });
        await ExpectAsync(res, "POST /v1/webhooks");
        _webhooks.Add((http, (await res.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>()));
        return receiver;
    }

    private static async Task<string> CreateSandboxAsync(HttpClient http)
    {
        var created = await http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "base" });
        await ExpectAsync(created, "POST /v1/sandboxes");
        var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
        // The API waits for the sandbox to start: a sandbox that answers is ready.
        await ExpectAsync(await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "true", args = Array.Empty<string>() }), $"exec on {id}");
        return id;
    }

    private static async Task CloseSandboxAsync(HttpClient http, string id)
    {
        await ExpectAsync(await http.DeleteAsync($"/v1/sandboxes/{id}"), $"DELETE sandbox {id}");
        var ended = await Eventually.Until(async () => (await http.GetFromJsonAsync<JsonObject>($"/v1/sandboxes/{id}"))!["status"]!.GetValue<string>(),
            s => s is "ended" or "failed", TimeSpan.FromSeconds(30), $"sandbox {id} to end");
        if (ended == "failed") throw new InvalidOperationException($"sandbox {id} failed instead of ending: its webhooks would not be the ones counted");
    }

    /// <summary>An organisation of the bench's own when the operator key is known; the development organisation otherwise.</summary>
    private async Task<HttpClient> OrganizationAsync()
    {
        var key = apiKey;
        if (adminKey is not null)
        {
            using var admin = Client(adminKey);
            var res = await admin.PostAsJsonAsync("/v1/admin/organizations", new { name = $"bench-webhooks-{Guid.NewGuid():N}", plan = "pro" });
            await ExpectAsync(res, "POST /v1/admin/organizations");
            key = (await res.Content.ReadFromJsonAsync<JsonObject>())!["apiKey"]!.GetValue<string>();
        }
        else
        {
            Console.WriteLine("webhooks: BOXES_ADMIN_KEY not set, using the development organisation (its other boxes' events would be delivered too)");
        }
        return Client(key);
    }

    private HttpClient Client(string key)
    {
        var http = new HttpClient { BaseAddress = apiUrl };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }

    private DateTimeOffset WallClock(long ticks) => _wallAtStart + Stopwatch.GetElapsedTime(_ticksAtStart, ticks);

    private static async Task ExpectAsync(HttpResponseMessage res, string what)
    {
        if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"{what}: {(int)res.StatusCode} {await res.Content.ReadAsStringAsync()}");
    }
}
