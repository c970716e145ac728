using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Testing;
using Xunit;

namespace Boxes.EndToEnd.Tests;

/// <summary>
/// Metering through the platform scripts/up.sh started: real boxes in an organisation of the test's own, then
/// <c>GET /v1/usage</c>, the usage feed (<c>/v1/usage/export</c>) and <c>GET /v1/billing</c> against what the boxes' own
/// timestamps say. A box is metered from ready to its end, not while paused, to the millisecond of its event timestamps
/// (docs/INTERNAL.md, "Billing"); the expectation is computed here from the API's answers alone: readyAt and endedAt from
/// the records, pausedAt from the pause's answer, and the resume's time from the signed <c>sandbox.resumed</c> webhook
/// (a sandbox's record does not keep it). Rates are the documented defaults: a medium browser and a standard sandbox
/// are metered at 2 vCPUs each.
/// </summary>
public sealed class MeteringTests : IAsyncLifetime
{
    private static readonly TimeSpan ReadyWithin = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan DeliveredWithin = TimeSpan.FromSeconds(30);
    /// <summary>A closed interval's pieces are written when billing hears of the end; a minute's grace covers a busy machine.</summary>
    private static readonly TimeSpan WrittenWithin = TimeSpan.FromSeconds(90);
    private const decimal MediumBrowserVcpus = 2;
    private const decimal StandardSandboxVcpus = 2;
    private const int PageSize = 3;

    private readonly Platform _platform = new();
    private readonly List<(string ApiKey, string Id)> _webhooks = [];
    private WebhookReceiver _receiver = null!;

    public async Task InitializeAsync() => _receiver = await WebhookReceiver.StartAsync();

    public async Task DisposeAsync()
    {
        foreach (var (key, id) in _webhooks)
        {
            using var http = _platform.Client(key);
            await http.DeleteAsync($"/v1/webhooks/{id}");
        }
        await _receiver.DisposeAsync();
    }

    /// <summary>One record of the usage feed as the API passed it through.</summary>
    private sealed record UsageRecord(string Id, string OrganizationId, string BoxId, string Kind, string? Weight, string? Size,
        DateTimeOffset Start, DateTimeOffset End, decimal Vcpus, decimal VcpuSeconds)
    {
        public static UsageRecord Parse(string line)
        {
            var o = JsonNode.Parse(line)!.AsObject();
            Assert.Equal(["boxId", "end", "id", "kind", "organizationId", "size", "start", "vcpuSeconds", "vcpus", "weight"], o.Select(p => p.Key).Order());
            return new UsageRecord(o["id"]!.GetValue<string>(), o["organizationId"]!.GetValue<string>(), o["boxId"]!.GetValue<string>(),
                o["kind"]!.GetValue<string>(), o["weight"]?.GetValue<string>(), o["size"]?.GetValue<string>(),
                Time(o["start"]!.GetValue<string>()), Time(o["end"]!.GetValue<string>()),
                o["vcpus"]!.GetValue<decimal>(), o["vcpuSeconds"]!.GetValue<decimal>());
        }

        public long Milliseconds => (long)(End - Start).TotalMilliseconds;
    }

    /// <summary>One page of the feed: its exact bytes, its records and the cursor it handed out.</summary>
    private sealed record Page(byte[] Bytes, string ContentType, IReadOnlyList<string> Lines, string Cursor);

    [Fact]
    public async Task Usage_the_feed_and_billing_meter_a_paused_sandbox_and_a_medium_browser_exactly_as_their_timestamps_say()
    {
        var testStarted = DateTimeOffset.UtcNow;
        var (orgId, key) = await _platform.CreateOrganizationAsync("pro");
        using var http = _platform.Client(key);
        await RegisterWebhook(http, "sandbox.paused", "sandbox.resumed");

        // A sandbox that runs...
        var sandboxId = await CreateReady(http, "sandboxes", new { runtime = "base" });
        await Exec(http, sandboxId);
        // ...is paused for a while: a whole browser session's life (medium: 2 vCPUs)...
        var paused = await Platform.ReadJson(await http.PostAsync($"/v1/sandboxes/{sandboxId}/pause", null));
        Assert.Equal("paused", Platform.Status(paused));
        var pausedAt = Ms(paused["pausedAt"]!);
        var browserId = await CreateReady(http, "browsers", new { weight = "medium" });
        var browser = await Close(http, "browsers", browserId);
        // ...is resumed, runs again, and is deleted.
        var resumed = await http.PostAsync($"/v1/sandboxes/{sandboxId}/resume", null);
        Assert.Equal(HttpStatusCode.OK, resumed.StatusCode);
        await Exec(http, sandboxId);
        var sandbox = await Close(http, "sandboxes", sandboxId);

        // The times the API reported. The resume's comes from its webhook: the record forgets it once the sandbox runs again.
        var resumedAt = Time((await Delivered(sandboxId, "sandbox.resumed")).Payload!["timestamp"]!.GetValue<string>());
        Assert.Equal(pausedAt, Time((await Delivered(sandboxId, "sandbox.paused")).Payload!["timestamp"]!.GetValue<string>()));
        var (sandboxReady, sandboxEnded) = (Ms(sandbox["readyAt"]!), Ms(sandbox["endedAt"]!));
        var (browserReady, browserEnded) = (Ms(browser["readyAt"]!), Ms(browser["endedAt"]!));
        Assert.True(sandboxReady < pausedAt && pausedAt <= browserReady && browserEnded <= resumedAt && resumedAt < sandboxEnded,
            $"the timeline: sandbox ready {sandboxReady:O}, paused {pausedAt:O}, browser {browserReady:O}-{browserEnded:O}, resumed {resumedAt:O}, ended {sandboxEnded:O}");
        (DateTimeOffset From, DateTimeOffset To)[] sandboxRunning = [(sandboxReady, pausedAt), (resumedAt, sandboxEnded)];
        (DateTimeOffset From, DateTimeOffset To)[] browserRunning = [(browserReady, browserEnded)];
        var sandboxMs = sandboxRunning.Sum(i => (long)(i.To - i.From).TotalMilliseconds);
        var browserMs = browserRunning.Sum(i => (long)(i.To - i.From).TotalMilliseconds);
        var expectedSandbox = StandardSandboxVcpus * sandboxMs / 1000m;
        var expectedBrowser = MediumBrowserVcpus * browserMs / 1000m;

        // The feed: read to its end in small pages, once every record of both boxes is written.
        var pages = await Eventually.Until(() => ReadFeed(http, "ndjson"),
            p => Records(p).Count(r => r.BoxId == sandboxId && r.End == sandboxEnded) == 1 && Records(p).Count(r => r.BoxId == browserId && r.End == browserEnded) == 1,
            WrittenWithin, "the last pieces of both boxes in the usage feed");
        var records = Records(pages);
        Assert.All(records, r => Assert.Equal(orgId, r.OrganizationId));
        Assert.Equal(records.Count, records.Select(r => r.Id).Distinct().Count());
        Assert.All(records, r =>
        {
            Assert.InRange(r.Milliseconds, 1, 60_000);
            Assert.Equal(r.Vcpus * r.Milliseconds / 1000m, r.VcpuSeconds);
            Assert.Equal(2m, r.Vcpus);
        });
        var sandboxRecords = records.Where(r => r.BoxId == sandboxId).ToList();
        var browserRecords = records.Where(r => r.BoxId == browserId).ToList();
        Assert.Equal(records.Count, sandboxRecords.Count + browserRecords.Count);
        Assert.All(sandboxRecords, r => Assert.Equal(("sandbox", (string?)null, "standard"), (r.Kind, r.Weight, r.Size)));
        Assert.All(browserRecords, r => Assert.Equal(("browser", "medium", (string?)null), (r.Kind, r.Weight, r.Size)));
        AssertTiles(sandboxRecords, sandboxRunning);
        AssertTiles(browserRecords, browserRunning);
        Assert.Equal(expectedSandbox, sandboxRecords.Sum(r => r.VcpuSeconds));
        Assert.Equal(expectedBrowser, browserRecords.Sum(r => r.VcpuSeconds));

        // Read on from the last cursor: nothing new, and the same cursor back.
        var last = pages[^1].Cursor;
        var after = await ReadPage(http, "ndjson", last);
        Assert.Empty(after.Lines);
        Assert.Equal(last, after.Cursor);
        // The same range again: byte for byte the same, page by page, with the same cursors. (The read above may have
        // met the last records on a later page than a read now does, so the page-by-page comparison is between two
        // reads made once everything was written; the records themselves are the same bytes in every read.)
        var settled = await ReadFeed(http, "ndjson");
        var again = await ReadFeed(http, "ndjson");
        Assert.Equal(settled.Select(p => Convert.ToHexString(p.Bytes) + " " + p.Cursor), again.Select(p => Convert.ToHexString(p.Bytes) + " " + p.Cursor));
        Assert.Equal(pages.SelectMany(p => p.Lines), settled.SelectMany(p => p.Lines));
        Assert.Equal(last, settled[^1].Cursor);
        Assert.All(pages, p => Assert.Equal("application/x-ndjson", p.ContentType));
        // CSV: the same records under the header line, and as stable.
        var csv = await ReadFeed(http, "csv");
        Assert.All(csv, p => Assert.Equal("text/csv", p.ContentType));
        Assert.All(csv, p => Assert.Equal("id,organizationId,boxId,kind,weight,size,start,end,vcpus,vcpuSeconds", Encoding.UTF8.GetString(p.Bytes).Split('\n')[0]));
        Assert.Equal(records.Select(r => r.Id), csv.SelectMany(p => p.Lines.Skip(1)).Select(l => l.Split(',')[0]));
        Assert.Equal(csv.Select(p => Convert.ToHexString(p.Bytes)), (await ReadFeed(http, "csv")).Select(p => Convert.ToHexString(p.Bytes)));

        // Usage for a period around the test: the same vCPU-seconds, by kind and in all.
        var from = Iso(testStarted.AddMinutes(-1));
        var to = Iso(DateTimeOffset.UtcNow.AddMinutes(1));
        var usageRes = await http.GetAsync($"/v1/usage?from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(to)}");
        var usage = await Platform.ReadJson(usageRes);
        Assert.True(usageRes.StatusCode == HttpStatusCode.OK, $"usage answered {(int)usageRes.StatusCode}: {usage.ToJsonString()}");
        Assert.Equal(expectedSandbox + expectedBrowser, usage["totalVcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal(expectedSandbox, usage["byKind"]!["sandbox"]!["vcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal(expectedBrowser, usage["byKind"]!["browser"]!["vcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal((2, 1, 1), (usage["totalSessions"]!.GetValue<int>(), usage["byKind"]!["sandbox"]!["sessions"]!.GetValue<int>(),
            usage["byKind"]!["browser"]!["sessions"]!.GetValue<int>()));
        Assert.Equal(decimal.Round(browserMs / 3_600_000m, 6, MidpointRounding.AwayFromZero), usage["totalBrowserHours"]!.GetValue<decimal>());
        Assert.Equal(Time(from), Time(usage["period"]!["from"]!.GetValue<string>()));
        Assert.Equal(Time(to), Time(usage["period"]!["to"]!.GetValue<string>()));

        // A period that ends before the resume counts only the first stretch of the sandbox, and the browser's time.
        var before = await Platform.ReadJson(await http.GetAsync($"/v1/usage?from={Uri.EscapeDataString(from)}&to={Uri.EscapeDataString(Iso(resumedAt))}"));
        Assert.Equal(StandardSandboxVcpus * (long)(pausedAt - sandboxReady).TotalMilliseconds / 1000m, before["byKind"]!["sandbox"]!["vcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal(expectedBrowser, before["byKind"]!["browser"]!["vcpuSeconds"]!.GetValue<decimal>());

        // Billing: this month's vCPU-hours (the test's boxes are all the organisation has), no box still active.
        var billing = await Platform.ReadJson(await http.GetAsync("/v1/billing"));
        Assert.Equal("pro", billing["plan"]!.GetValue<string>());
        Assert.Equal(0, billing["usage"]!["activeBoxes"]!.GetValue<long>());
        if (testStarted.UtcDateTime.Month == DateTimeOffset.UtcNow.UtcDateTime.Month)
            Assert.Equal((double)decimal.Round((expectedSandbox + expectedBrowser) / 3600m, 6), billing["usage"]!["vcpuHours"]!.GetValue<double>(), 6);
    }

    [Fact]
    public async Task The_feed_and_usage_are_the_callers_organisations_only()
    {
        var (_, ownerKey) = await _platform.CreateOrganizationAsync("pro");
        var (otherId, otherKey) = await _platform.CreateOrganizationAsync("pro");
        using var owner = _platform.Client(ownerKey);
        using var other = _platform.Client(otherKey);
        var id = await CreateReady(owner, "sandboxes", new { runtime = "base" });
        var ended = await Close(owner, "sandboxes", id);
        var endedAt = Ms(ended["endedAt"]!);
        await Eventually.Until(() => ReadFeed(owner, "ndjson"), p => Records(p).Any(r => r.BoxId == id && r.End == endedAt), WrittenWithin,
            "the sandbox's last piece in its owner's feed");

        var otherFeed = await ReadFeed(other, "ndjson");
        Assert.DoesNotContain(Records(otherFeed), r => r.BoxId == id);
        Assert.All(Records(otherFeed), r => Assert.Equal(otherId, r.OrganizationId));
        var otherUsage = await Platform.ReadJson(await other.GetAsync("/v1/usage"));
        Assert.Equal(0m, otherUsage["totalVcpuSeconds"]!.GetValue<decimal>());
        Assert.Equal(0, otherUsage["totalSessions"]!.GetValue<int>());

        // The operator's feed needs the operator's key.
        Assert.Equal(HttpStatusCode.Unauthorized, (await owner.GetAsync("/v1/admin/usage/export")).StatusCode);
    }

    private async Task RegisterWebhook(HttpClient http, params string[] eventTypes)
    {
        var res = await http.PostAsJsonAsync("/v1/webhooks", new { url = _receiver.Url, eventTypes });
        var body = await Platform.ReadJson(res);
        Assert.True(res.StatusCode == HttpStatusCode.Created, $"POST /v1/webhooks answered {(int)res.StatusCode}: {body.ToJsonString()}");
        _webhooks.Add((http.DefaultRequestHeaders.Authorization!.Parameter!, body["id"]!.GetValue<string>()));
    }

    private Task<WebhookReceiver.Delivery> Delivered(string boxId, string type) =>
        _receiver.WaitFor(d => d.Type == type && d.BoxId == boxId, DeliveredWithin, $"{type} of {boxId}");

    private static async Task<string> CreateReady(HttpClient http, string kind, object config)
    {
        var res = await http.PostAsJsonAsync($"/v1/{kind}", config);
        var created = await Platform.ReadJson(res);
        Assert.True(res.StatusCode == HttpStatusCode.Accepted, $"POST /v1/{kind} answered {(int)res.StatusCode}: {created.ToJsonString()}");
        var id = created["id"]!.GetValue<string>();
        var ready = await Platform.WaitForStatus(http, kind, id, s => s is "ready" or "failed" or "ended", ReadyWithin);
        Assert.Equal("ready", Platform.Status(ready));
        return id;
    }

    /// <summary>Deletes the box and returns its record once it has ended.</summary>
    private static async Task<JsonObject> Close(HttpClient http, string kind, string id)
    {
        Assert.Equal(HttpStatusCode.Accepted, (await http.DeleteAsync($"/v1/{kind}/{id}")).StatusCode);
        var ended = await Platform.WaitForStatus(http, kind, id, s => s is "ended" or "failed", ReadyWithin);
        Assert.Equal("ended", Platform.Status(ended));
        return ended;
    }

    private static async Task Exec(HttpClient http, string id)
    {
        var res = await http.PostAsJsonAsync($"/v1/sandboxes/{id}/exec", new { command = "true" });
        var json = await Platform.ReadJson(res);
        Assert.True(res.IsSuccessStatusCode, $"exec answered {(int)res.StatusCode}: {json.ToJsonString()}");
        Assert.Equal(0, json["exitCode"]!.GetValue<int>());
    }

    /// <summary>The organisation's whole feed from the start, page by page, up to the first empty page (not included).</summary>
    private static async Task<IReadOnlyList<Page>> ReadFeed(HttpClient http, string format)
    {
        var pages = new List<Page>();
        string? cursor = null;
        while (true)
        {
            var page = await ReadPage(http, format, cursor);
            if (page.Lines.Count == (format == "csv" ? 1 : 0))
            {
                if (pages.Count == 0) pages.Add(page); // an empty feed is one empty page, so its cursor is still there
                return pages;
            }
            pages.Add(page);
            cursor = page.Cursor;
        }
    }

    private static async Task<Page> ReadPage(HttpClient http, string format, string? after)
    {
        var res = await http.GetAsync($"/v1/usage/export?format={format}&limit={PageSize}" + (after is null ? "" : "&after=" + Uri.EscapeDataString(after)));
        var bytes = await res.Content.ReadAsByteArrayAsync();
        Assert.True(res.StatusCode == HttpStatusCode.OK, $"export answered {(int)res.StatusCode}: {Encoding.UTF8.GetString(bytes)}");
        Assert.True(res.Headers.TryGetValues("X-Next-Cursor", out var cursor), "the export carries X-Next-Cursor");
        var lines = Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return new Page(bytes, res.Content.Headers.ContentType!.MediaType!, lines, cursor!.Single());
    }

    private static List<UsageRecord> Records(IEnumerable<Page> pages) => [.. pages.SelectMany(p => p.Lines).Select(UsageRecord.Parse)];

    /// <summary>The box's records, in order, cover exactly its running intervals: no gap, no overlap, nothing outside.</summary>
    private static void AssertTiles(IReadOnlyList<UsageRecord> records, IReadOnlyList<(DateTimeOffset From, DateTimeOffset To)> running)
    {
        var ordered = records.OrderBy(r => r.Start).ToList();
        var i = 0;
        foreach (var (from, to) in running)
        {
            var at = from;
            while (at < to)
            {
                Assert.True(i < ordered.Count, $"no record from {at:O} (the interval {from:O}-{to:O})");
                Assert.Equal(at, ordered[i].Start);
                Assert.True(ordered[i].End <= to, $"the record {ordered[i].Start:O}-{ordered[i].End:O} runs past {to:O}");
                at = ordered[i].End;
                i++;
            }
        }
        Assert.Equal(ordered.Count, i);
    }

    private static DateTimeOffset Time(string text) => DateTimeOffset.Parse(text, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);

    /// <summary>A time from the API, down to its whole millisecond: what metering counts.</summary>
    private static DateTimeOffset Ms(JsonNode node)
    {
        var t = Time(node.GetValue<string>());
        return new DateTimeOffset(t.UtcTicks - t.UtcTicks % TimeSpan.TicksPerMillisecond, TimeSpan.Zero);
    }

    private static string Iso(DateTimeOffset t) => t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
}
