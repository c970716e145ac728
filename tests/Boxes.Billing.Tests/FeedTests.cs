using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Billing.Tests.Infrastructure;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.Testing;
using Npgsql;
using Xunit;

namespace Boxes.Billing.Tests;

/// <summary>
/// The usage feed: one record per metered piece, in write order, resumable by cursor, each record seen exactly once by a
/// reader that keeps the cursor, the same bytes when a range is read again, and each organisation seeing only its own.
/// </summary>
public sealed class FeedTests(BillingHost host) : IClassFixture<BillingHost>
{
    private const string OperatorFeed = "/internal/usage/export";
    private static string OrgFeed(Guid org) => $"/internal/organizations/{org}/usage/export";

    private static IReadOnlyList<JsonNode> Lines(ExportResponse page) =>
        page.Text.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonNode.Parse(l)!).ToList();

    private static Guid IdOf(JsonNode record) => Guid.Parse(record["id"]!.GetValue<string>());

    /// <summary>Reads a feed from its start until it has <paramref name="count"/> records; returns them in order.</summary>
    private async Task<List<JsonNode>> ReadAll(string feed, int count, int limit = 1000) => (await ReadAllWithCursor(feed, count, limit)).Records;

    private async Task<(List<JsonNode> Records, string Cursor)> ReadAllWithCursor(string feed, int count, int limit = 1000)
    {
        var all = new List<JsonNode>();
        string? cursor = null;
        await Eventually.Until(async () =>
        {
            var page = await host.Export($"{feed}?limit={limit}" + (cursor is null ? "" : $"&after={cursor}"));
            Assert.Equal(HttpStatusCode.OK, page.Status);
            all.AddRange(Lines(page));
            cursor = page.NextCursor;
            return all.Count;
        }, n => n >= count, TimeSpan.FromSeconds(30), $"{count} records from {feed}");
        return (all, cursor!);
    }

    [Fact]
    public async Task A_reader_keeping_the_cursor_sees_every_record_once_while_writers_commit_concurrently()
    {
        var org = Guid.NewGuid();
        var seen = new List<Guid>();
        var pages = 0;
        using var stop = new CancellationTokenSource();
        var reader = Task.Run(async () =>
        {
            string? cursor = null;
            while (true)
            {
                var page = await host.Export($"{OrgFeed(org)}?limit=7" + (cursor is null ? "" : $"&after={cursor}"));
                Assert.Equal(HttpStatusCode.OK, page.Status);
                var ids = Lines(page).Select(IdOf).ToList();
                lock (seen) seen.AddRange(ids);
                pages++;
                cursor = page.NextCursor;
                if (ids.Count == 0)
                {
                    if (stop.IsCancellationRequested) return;
                    await Task.Delay(5);
                }
            }
        });

        // 24 boxes of 1 to 5 minutes end together; each end is delivered three more times at once, so dozens of
        // transactions write pieces at the same time and commit in whatever order they finish.
        var t0 = BillingHost.At("2026-07-01T10:00:00.000Z");
        var boxes = new List<TestBox>();
        for (var i = 0; i < 24; i++)
        {
            var box = await host.RequestBox(org, i % 3 == 0 ? BoxKinds.Sandbox : BoxKinds.Browser, i % 3 == 0 ? "standard" : "light", t0.AddSeconds(i));
            await host.Ready(box, t0.AddSeconds(i));
            boxes.Add(box);
        }
        var ends = new List<RecordedEvent>();
        var endAt = t0.AddMinutes(5);
        for (var i = 0; i < 24; i++) ends.Add(await host.End(boxes[i], endAt.AddMilliseconds(i)));
        await Task.WhenAll(ends.SelectMany(e => Enumerable.Repeat(e, 3)).Select(e => Task.Run(() => host.Publish(e))));
        foreach (var e in ends) await host.WaitUntilConsumed(e, 4);

        var written = (await host.AllRecords()).Where(r => r.OrganizationId == org).Select(r => r.Id).ToList();
        await Eventually.Until(() => { lock (seen) return seen.Count >= written.Count; }, TimeSpan.FromSeconds(30),
            $"the reader to reach all {written.Count} records");
        await stop.CancelAsync();
        await reader;

        Assert.True(pages > 10, $"the reader read only {pages} pages");
        Assert.Equal(seen.Count, seen.Distinct().Count());
        // Every record once, and in the order of the table's positions.
        Assert.Equal(written, seen);
        Assert.Equal(24 * 5, written.Count); // 5 minutes each: the first box exactly, the others 4 full and a shorter last
    }

    [Fact]
    public async Task A_record_committed_after_a_later_one_is_not_skipped()
    {
        var org = Guid.NewGuid();
        static async Task Insert(NpgsqlConnection conn, NpgsqlTransaction? tx, Guid id, Guid org)
        {
            await using var cmd = new NpgsqlCommand("""
                INSERT INTO billing.usage_records (id, organization_id, box_id, kind, weight, start_at, end_at, duration_ms, vcpus, vcpu_ms)
                VALUES ($1, $2, $3, 'browser', 'light', '2026-07-02T10:00:00Z', '2026-07-02T10:01:00Z', 60000, 1, 60000)
                """, conn, tx);
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = org });
            cmd.Parameters.Add(new() { Value = Guid.NewGuid() });
            await cmd.ExecuteNonQueryAsync();
        }

        // A takes the lower position first and commits last; B commits in between.
        var (slow, fast) = (Guid.NewGuid(), Guid.NewGuid());
        await using (var connA = await host.Database.DataSource.OpenConnectionAsync())
        {
            await using var txA = await connA.BeginTransactionAsync();
            await Insert(connA, txA, slow, org);
            await using (var connB = await host.Database.DataSource.OpenConnectionAsync())
                await Insert(connB, null, fast, org);

            // While A is open the reader must not move past it: B is held back, not handed out.
            var whileOpen = await host.Export(OrgFeed(org));
            Assert.Empty(Lines(whileOpen));
            await txA.CommitAsync();
        }

        var all = await ReadAll(OrgFeed(org), 2, limit: 1);
        Assert.Equal([slow, fast], all.Select(IdOf));
    }

    [Fact]
    public async Task The_feed_is_read_in_numeric_transaction_order_where_ids_gain_a_digit()
    {
        // Transaction ids written directly (long committed, so below the read horizon): 9 < 10 < 99 < 100 < 999 < 1000,
        // which a text sort would put as 10, 100, 1000, 9, 99, 999.
        var org = Guid.NewGuid();
        ulong[] xids = [1000, 9, 999, 10, 100, 99];
        var ids = new Dictionary<ulong, Guid>();
        await using (var conn = await host.Database.DataSource.OpenConnectionAsync())
        {
            foreach (var xid in xids)
            {
                ids[xid] = Guid.NewGuid();
                await using var cmd = new NpgsqlCommand("""
                    INSERT INTO billing.usage_records (transaction_id, id, organization_id, box_id, kind, weight, start_at, end_at, duration_ms, vcpus, vcpu_ms)
                    VALUES ($1::text::xid8, $2, $3, $4, 'browser', 'light', '2026-07-02T10:00:00Z', '2026-07-02T10:01:00Z', 60000, 1, 60000)
                    """, conn);
                cmd.Parameters.Add(new() { Value = xid.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                cmd.Parameters.Add(new() { Value = ids[xid] });
                cmd.Parameters.Add(new() { Value = org });
                cmd.Parameters.Add(new() { Value = Guid.NewGuid() });
                await cmd.ExecuteNonQueryAsync();
            }
        }

        // Page by page, so every cursor in between is used too.
        var all = await ReadAll(OrgFeed(org), xids.Length, limit: 1);
        Assert.Equal(xids.Order().Select(x => ids[x]), all.Select(IdOf));
    }

    [Fact]
    public async Task Reading_the_same_range_again_gives_byte_identical_output_in_both_formats()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-07-03T10:00:00.000Z");
        var (_, e1) = await host.RanBox(org, BoxKinds.Browser, "medium", t0, t0.AddMilliseconds(90_123));
        var (_, e2) = await host.RanBox(org, BoxKinds.Sandbox, "standard", t0.AddMinutes(5), t0.AddMinutes(5).AddMilliseconds(150_456));
        await host.WaitUntilConsumed(e1);
        await host.WaitUntilConsumed(e2);
        await ReadAll(OrgFeed(org), 5);

        var ndjson = await host.Export($"{OrgFeed(org)}?limit=3&format=ndjson");
        var csv = await host.Export($"{OrgFeed(org)}?limit=3&format=csv");
        Assert.Equal(3, Lines(ndjson).Count);
        Assert.Equal(ndjson.NextCursor, csv.NextCursor);

        // More records arrive; the same range read again is the same, byte for byte, in both formats.
        var (_, e3) = await host.RanBox(org, BoxKinds.Browser, "heavy", t0.AddMinutes(10), t0.AddMinutes(11));
        await host.WaitUntilConsumed(e3);
        await ReadAll(OrgFeed(org), 6);
        var ndjsonAgain = await host.Export($"{OrgFeed(org)}?limit=3&format=ndjson");
        var csvAgain = await host.Export($"{OrgFeed(org)}?limit=3&format=csv");
        Assert.Equal(ndjson.Body, ndjsonAgain.Body);
        Assert.Equal(csv.Body, csvAgain.Body);
        Assert.Equal(ndjson.NextCursor, ndjsonAgain.NextCursor);

        // Read on from the cursor, the pages put together are the whole feed read at once.
        var rest = await host.Export($"{OrgFeed(org)}?after={ndjson.NextCursor}&format=ndjson");
        var whole = await host.Export($"{OrgFeed(org)}?format=ndjson");
        Assert.Equal(whole.Body, ndjson.Body.Concat(rest.Body).ToArray());
        Assert.Equal(whole.NextCursor, rest.NextCursor);
        Assert.Equal(6, Lines(whole).Count);
    }

    [Fact]
    public async Task Ndjson_lines_are_the_documented_records_in_fixed_formats()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-07-04T10:00:00.123Z");
        var (box, end) = await host.RanBox(org, BoxKinds.Browser, "medium", t0, BillingHost.At("2026-07-04T10:01:30.000Z"));
        await host.WaitUntilConsumed(end);
        var records = await host.Records(box.BoxId);
        await ReadAll(OrgFeed(org), 2);

        var page = await host.Export(OrgFeed(org));
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Equal("application/x-ndjson; charset=utf-8", page.ContentType);
        Assert.Equal(
            $$"""{"id":"{{records[0].Id}}","organizationId":"{{org}}","boxId":"{{box.BoxId}}","kind":"browser","weight":"medium","size":null,"start":"2026-07-04T10:00:00.123Z","end":"2026-07-04T10:01:00.123Z","vcpus":2,"vcpuSeconds":120.000}""" + "\n" +
            $$"""{"id":"{{records[1].Id}}","organizationId":"{{org}}","boxId":"{{box.BoxId}}","kind":"browser","weight":"medium","size":null,"start":"2026-07-04T10:01:00.123Z","end":"2026-07-04T10:01:30.000Z","vcpus":2,"vcpuSeconds":59.754}""" + "\n",
            page.Text);
        Assert.DoesNotContain("\r", page.Text);
    }

    [Fact]
    public async Task Csv_has_the_header_line_and_rfc_4180_fields()
    {
        var org = Guid.NewGuid();
        var t0 = BillingHost.At("2026-07-05T10:00:00.000Z");
        // A weight with a comma and quotes (the API would refuse it; the feed must still be well-formed CSV).
        var (odd, e1) = await host.RanBox(org, BoxKinds.Browser, "odd,\"one\"", t0, t0.AddMilliseconds(1_500));
        var (sandbox, e2) = await host.RanBox(org, BoxKinds.Sandbox, "standard", t0.AddMinutes(1), t0.AddMinutes(1).AddMilliseconds(2_001));
        await host.WaitUntilConsumed(e1);
        await host.WaitUntilConsumed(e2);
        await ReadAll(OrgFeed(org), 2);
        var oddId = Assert.Single(await host.Records(odd.BoxId)).Id;
        var sandboxId = Assert.Single(await host.Records(sandbox.BoxId)).Id;

        var page = await host.Export($"{OrgFeed(org)}?format=csv");
        Assert.Equal(HttpStatusCode.OK, page.Status);
        Assert.Equal("text/csv; charset=utf-8", page.ContentType);
        Assert.Equal(
            "id,organizationId,boxId,kind,weight,size,start,end,vcpus,vcpuSeconds\n" +
            // An unknown weight is metered at the smallest browser rate (VcpuRates.For).
            $"{oddId},{org},{odd.BoxId},browser,\"odd,\"\"one\"\"\",,2026-07-05T10:00:00.000Z,2026-07-05T10:00:01.500Z,1,1.500\n" +
            $"{sandboxId},{org},{sandbox.BoxId},sandbox,,standard,2026-07-05T10:01:00.000Z,2026-07-05T10:01:02.001Z,2,4.002\n",
            page.Text);

        // An empty page is the header alone.
        var empty = await host.Export($"{OrgFeed(org)}?format=csv&after={page.NextCursor}");
        Assert.Equal("id,organizationId,boxId,kind,weight,size,start,end,vcpus,vcpuSeconds\n", empty.Text);
    }

    [Fact]
    public async Task The_organisation_feed_shows_only_its_own_records_and_the_operator_feed_shows_all()
    {
        var (a, b) = (Guid.NewGuid(), Guid.NewGuid());
        var t0 = BillingHost.At("2026-07-06T10:00:00.000Z");
        var (boxA, ea) = await host.RanBox(a, BoxKinds.Browser, "light", t0, t0.AddSeconds(30));
        var (boxB, eb) = await host.RanBox(b, BoxKinds.Sandbox, "standard", t0.AddMinutes(1), t0.AddMinutes(1).AddSeconds(90));
        await host.WaitUntilConsumed(ea);
        await host.WaitUntilConsumed(eb);

        var ofA = await ReadAll(OrgFeed(a), 1);
        var ofB = await ReadAll(OrgFeed(b), 2);
        Assert.All(ofA, r => Assert.Equal(a.ToString(), r["organizationId"]!.GetValue<string>()));
        Assert.All(ofB, r => Assert.Equal(b.ToString(), r["organizationId"]!.GetValue<string>()));
        Assert.Equal([boxA.BoxId.ToString()], ofA.Select(r => r["boxId"]!.GetValue<string>()));
        Assert.Equal(2, ofB.Count);
        Assert.Empty(Lines(await host.Export(OrgFeed(Guid.NewGuid()))));

        var everything = (await host.AllRecords()).Select(r => r.Id).ToList();
        var all = await ReadAll(OperatorFeed, everything.Count, limit: 10_000);
        Assert.Equal(everything, all.Select(IdOf));
        Assert.Contains(all, r => r["boxId"]!.GetValue<string>() == boxB.BoxId.ToString());
    }

    [Fact]
    public async Task An_empty_page_hands_back_the_cursor_it_was_given()
    {
        var org = Guid.NewGuid();
        var first = await host.Export(OrgFeed(org));
        Assert.Equal(HttpStatusCode.OK, first.Status);
        Assert.Empty(first.Body);
        Assert.NotNull(first.NextCursor);
        var again = await host.Export($"{OrgFeed(org)}?after={first.NextCursor}");
        Assert.Equal(first.NextCursor, again.NextCursor);

        var t0 = BillingHost.At("2026-07-07T10:00:00.000Z");
        var (_, end) = await host.RanBox(org, BoxKinds.Browser, "light", t0, t0.AddSeconds(61));
        await host.WaitUntilConsumed(end);
        var (records, cursor) = await ReadAllWithCursor(OrgFeed(org), 2);
        Assert.Equal(2, records.Count);
        var after = await host.Export($"{OrgFeed(org)}?after={cursor}");
        Assert.Empty(after.Body);
        Assert.Equal(cursor, after.NextCursor);
    }
}
