using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Boxes.Testing;

// Measures the hot paths against the running platform (scripts/up.sh; reads .run/env).
//   dotnet run --project bench/Boxes.Bench -c Release -- [browsers|sandboxes|webhooks|sdk|all] [count]
// Browsers: create→ready and the full lifecycle (create → CDP connect → open a page → close) p50/p95, and the same
// page open/close against an already-running Chromium as the floor to compare with.
// Sandboxes: create→first exec p50/p95 (sequential), exec round trip p50/p95 in one sandbox, and a burst of 50
// sandboxes created at once (each answering its first exec).
// Webhooks: event → delivered p50/p95 at a loopback receiver (sandbox create → its sandbox.ready; test route → webhook.test)
// and deliveries per second to 10 endpoints (WebhooksBench; needs BOXES_ADMIN_KEY for an organisation of its own).
// SDK: the same paths through Boxes.Sdk (SdkBench): LaunchAsync, first exec, exec round trip, a browser's launch.

var env = LoadEnv();
var apiUrl = env.GetValueOrDefault("BOXES_API_URL") ?? "http://127.0.0.1:8080";
var apiKey = env.GetValueOrDefault("BOXES_API_KEY") ?? throw new InvalidOperationException("BOXES_API_KEY not set and .run/env missing: run scripts/up.sh first.");
var what = args.Length > 0 ? args[0] : "all";
int? count = args.Length > 1 ? int.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : null;

using var http = new HttpClient { BaseAddress = new Uri(apiUrl) };
http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
var workerUrl = Environment.GetEnvironmentVariable("BOXES_WORKER_URL") ?? "http://127.0.0.1:8082";

if (what is "browsers" or "all") await BenchBrowsers(count ?? 20);
if (what is "sandboxes" or "all") await BenchSandboxes(count ?? 50);
if (what is "webhooks" or "all")
    await new WebhooksBench(new Uri(apiUrl), apiKey, env.GetValueOrDefault("BOXES_ADMIN_KEY"),
        () => WaitForFullPool(workerUrl, SandboxPoolFull)).RunAsync(count ?? 20);
if (what is "sdk" or "all")
    await new SdkBench(new Uri(apiUrl), apiKey, () => WaitForFullPool(workerUrl, SandboxPoolFull),
        () => WaitForFullPool(workerUrl, p => p["idle"]!.GetValue<int>() >= p["size"]!.GetValue<int>())).RunAsync(count ?? 20);

async Task BenchBrowsers(int sessions)
{
    var pool = await WaitForFullPool(workerUrl, p => p["idle"]!.GetValue<int>() >= p["size"]!.GetValue<int>());
    Console.WriteLine($"worker pool: {pool["size"]} pre-launched browsers (Worker__PoolSize)");
    await Lifecycle(); // warm-up: JIT, connection pools
    await WaitForFullPool(workerUrl, p => p["idle"]!.GetValue<int>() >= p["size"]!.GetValue<int>());
    var createToReady = new List<double>();
    var lifecycle = new List<double>();
    var phases = new Dictionary<string, List<double>> { ["connect"] = [], ["open page"] = [], ["close page"] = [], ["DELETE"] = [] };
    for (var i = 0; i < sessions; i++)
    {
        var (ready, total) = await Lifecycle(phases);
        createToReady.Add(ready);
        lifecycle.Add(total);
    }
    Report($"create→ready ({sessions} sessions, sequential)", createToReady);
    Report($"full lifecycle: create → CDP connect → open page → close ({sessions})", lifecycle);
    foreach (var (phase, times) in phases) Report($"  of which {phase}", times);

    // One at a time on a settled platform: each lifecycle starts with the pool full, as a single client would find it.
    var settled = new List<double>();
    for (var i = 0; i < Math.Min(sessions, 10); i++)
    {
        await WaitForFullPool(workerUrl, p => p["idle"]!.GetValue<int>() >= p["size"]!.GetValue<int>());
        settled.Add((await Lifecycle()).Total);
    }
    Report($"full lifecycle, one at a time on a settled platform (pool full) ({settled.Count})", settled);

    var floor = await AgainstRunningChromium(sessions);
    Report($"floor: connect → open page → close on an already-running Chromium ({sessions})", floor);
    Console.WriteLine($"ratio full lifecycle p50 / floor p50: {Percentile(lifecycle, 50) / Percentile(floor, 50):0.00}x (sequential), {Percentile(settled, 50) / Percentile(floor, 50):0.00}x (settled)");
}

async Task BenchSandboxes(int sandboxes)
{
    var full = SandboxPoolFull;
    var pool = await WaitForFullPool(workerUrl, full);
    Console.WriteLine($"worker pool: {pool["sandboxes"]!["size"]} started sandboxes (Sandbox__PoolSize)");
    await http.DeleteAsync($"/v1/sandboxes/{(await CreateAndExec()).Id}"); // warm-up

    // Latency, not throughput: each create starts once the previous sandbox has ended and the pool is full again,
    // so the previous one's teardown does not share the two cores with it (the burst below measures throughput).
    var firstExec = new List<double>();
    var backToBack = new List<double>();
    for (var i = 0; i < sandboxes; i++)
    {
        var (id, ms) = await CreateAndExec();
        firstExec.Add(ms);
        await http.DeleteAsync($"/v1/sandboxes/{id}");
        await Eventually.Until(async () => (await http.GetFromJsonAsync<JsonObject>($"/v1/sandboxes/{id}"))!["status"]!.GetValue<string>() == "ended",
            TimeSpan.FromSeconds(30), $"sandbox {id} to end");
        await WaitForFullPool(workerUrl, full);
    }
    Report($"sandbox create → first exec answered ({sandboxes}, one at a time on a settled platform)", firstExec);
    for (var i = 0; i < sandboxes; i++)
    {
        var (id, ms) = await CreateAndExec();
        backToBack.Add(ms);
        await http.DeleteAsync($"/v1/sandboxes/{id}");
    }
    Report($"sandbox create → first exec answered ({sandboxes}, back to back: each while the previous one is torn down)", backToBack);

    var (box, _) = await CreateAndExec();
    var roundTrips = new List<double>();
    for (var i = 0; i < 200; i++)
    {
        var sw = Stopwatch.StartNew();
        await Exec(box);
        roundTrips.Add(sw.Elapsed.TotalMilliseconds);
    }
    Report("exec round trip (`true`, 200 in one sandbox)", roundTrips);
    await http.DeleteAsync($"/v1/sandboxes/{box}");

    // The burst: every earlier box must be gone first (the plan counts boxes still ending), and the pool full again.
    await Eventually.Until(async () => (await http.GetFromJsonAsync<JsonObject>("/v1/sandboxes?status=ending&limit=1"))!["items"]!.AsArray().Count == 0
        && (await http.GetFromJsonAsync<JsonObject>("/v1/sandboxes?status=ready&limit=1"))!["items"]!.AsArray().Count == 0,
        TimeSpan.FromSeconds(60), "earlier sandboxes to end");
    await WaitForFullPool(workerUrl, full);
    var burst = Stopwatch.StartNew();
    var results = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => CreateAndExec()));
    var wall = burst.Elapsed.TotalMilliseconds;
    Report("burst: 50 sandboxes created at once, each to its first exec", results.Select(r => r.Ms).ToList());
    Console.WriteLine($"burst: all 50 answered after {wall:0} ms");
    await Task.WhenAll(results.Select(r => http.DeleteAsync($"/v1/sandboxes/{r.Id}")));
}

async Task<(string Id, double Ms)> CreateAndExec()
{
    var sw = Stopwatch.StartNew();
    var created = await http.PostAsJsonAsync("/v1/sandboxes", new { runtime = "base" });
    created.EnsureSuccessStatusCode();
    var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
    await Exec(id); // the API waits for the sandbox to be ready, then runs it
    return (id, sw.Elapsed.TotalMilliseconds);
}

async Task Exec(string id)
{
    var res = await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "true", args = Array.Empty<string>() });
    if (!res.IsSuccessStatusCode) throw new InvalidOperationException($"exec on {id}: {(int)res.StatusCode} {await res.Content.ReadAsStringAsync()}");
}

async Task<(double Ready, double Total)> Lifecycle(Dictionary<string, List<double>>? phases = null)
{
    var sw = Stopwatch.StartNew();
    var created = await http.PostAsJsonAsync("/v1/browsers", new { weight = "light" });
    created.EnsureSuccessStatusCode();
    var id = (await created.Content.ReadFromJsonAsync<JsonObject>())!["id"]!.GetValue<string>();
    JsonObject session;
    while (true)
    {
        session = (await http.GetFromJsonAsync<JsonObject>($"/v1/browsers/{id}"))!;
        var status = session["status"]!.GetValue<string>();
        if (status == "ready") break;
        if (status is "failed" or "ended") throw new InvalidOperationException($"session {id} {status}: {session["endReason"]}");
        if (sw.Elapsed > TimeSpan.FromSeconds(30)) throw new TimeoutException($"session {id} not ready after 30 s");
        await Task.Delay(2);
    }
    var ready = sw.Elapsed.TotalMilliseconds;
    var mark = ready;
    void Phase(string name)
    {
        var now = sw.Elapsed.TotalMilliseconds;
        phases?[name].Add(now - mark);
        mark = now;
    }
    await using (var cdp = await CdpClient.ConnectAsync(session["cdpUrl"]!.GetValue<string>()))
    {
        Phase("connect");
        var target = await cdp.SendAsync("Target.createTarget", new { url = "about:blank" });
        Phase("open page");
        await cdp.SendAsync("Target.closeTarget", new { targetId = target["targetId"]!.GetValue<string>() });
        Phase("close page");
    }
    (await http.DeleteAsync($"/v1/browsers/{id}")).EnsureSuccessStatusCode();
    Phase("DELETE");
    return (ready, sw.Elapsed.TotalMilliseconds);
}

static bool SandboxPoolFull(JsonObject pool) => pool["sandboxes"]!["idle"]!.GetValue<int>() >= pool["sandboxes"]!["size"]!.GetValue<int>();

// Measures the warm path: starts only once the worker's pool of pre-launched browsers is full.
static async Task<JsonObject> WaitForFullPool(string workerUrl, Func<JsonObject, bool> full)
{
    using var worker = new HttpClient { BaseAddress = new Uri(workerUrl) };
    return await Eventually.Until(async () => (await worker.GetFromJsonAsync<JsonObject>("/pool"))!, full, TimeSpan.FromSeconds(120), "the worker's pool to fill");
}

static async Task OpenPageAndClose(string cdpUrl)
{
    await using var cdp = await CdpClient.ConnectAsync(cdpUrl);
    var target = await cdp.SendAsync("Target.createTarget", new { url = "about:blank" });
    await cdp.SendAsync("Target.closeTarget", new { targetId = target["targetId"]!.GetValue<string>() });
}

static async Task<List<double>> AgainstRunningChromium(int n)
{
    var profile = Directory.CreateTempSubdirectory("boxes-bench-");
    var chromium = Environment.GetEnvironmentVariable("BOXES_CHROMIUM") ?? "/usr/bin/chromium";
    using var proc = Process.Start(new ProcessStartInfo(chromium,
        $"--headless --no-sandbox --disable-gpu --disable-quic --no-first-run --disable-background-networking --disable-component-update --disable-sync --remote-debugging-port=0 --user-data-dir={profile.FullName} about:blank")
    { RedirectStandardError = true, RedirectStandardOutput = true })!;
    try
    {
        var portFile = Path.Combine(profile.FullName, "DevToolsActivePort");
        await Eventually.Until(() => File.Exists(portFile) && File.ReadAllLines(portFile).Length >= 2, TimeSpan.FromSeconds(15), "DevToolsActivePort");
        var lines = File.ReadAllLines(portFile);
        var url = $"ws://127.0.0.1:{lines[0]}{lines[1]}";
        await OpenPageAndClose(url);
        var times = new List<double>();
        for (var i = 0; i < n; i++)
        {
            var sw = Stopwatch.StartNew();
            await OpenPageAndClose(url);
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        return times;
    }
    finally
    {
        proc.Kill(entireProcessTree: true);
        await proc.WaitForExitAsync();
        try { profile.Delete(recursive: true); } catch (IOException) { }
    }
}

static void Report(string what, List<double> ms) => Stats.Report(what, ms);

static double Percentile(List<double> values, double p) => Stats.Percentile(values, p);

static Dictionary<string, string> LoadEnv()
{
    var result = new Dictionary<string, string>();
    var dir = new DirectoryInfo(AppContext.BaseDirectory);
    while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Platform.sln"))) dir = dir.Parent;
    var file = dir is null ? null : Path.Combine(dir.FullName, ".run", "env");
    if (file is not null && File.Exists(file))
        foreach (var line in File.ReadAllLines(file))
            if (line.Split('=', 2) is [var k, var v]) result[k.Trim()] = v.Trim();
    foreach (var k in new[] { "BOXES_API_URL", "BOXES_API_KEY", "BOXES_ADMIN_KEY" })
        if (Environment.GetEnvironmentVariable(k) is { Length: > 0 } v) result[k] = v;
    return result;
}
