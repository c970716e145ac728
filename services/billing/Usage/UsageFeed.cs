using System.Globalization;
using Npgsql;

namespace Boxes.Billing.Usage;

/// <summary>A usage record as the feed shows it.</summary>
public sealed record UsageRecord(
    Guid Id, Guid OrganizationId, Guid BoxId, string Kind, string? Weight, string? Size,
    DateTimeOffset Start, DateTimeOffset End, decimal Vcpus, long VcpuMilliseconds);

/// <summary>A page of the feed and the cursor to read on from.</summary>
public sealed record UsagePage(IReadOnlyList<UsageRecord> Records, FeedPosition Next);

/// <summary>
/// The usage feed: every record once, in the order of the position it was written at, read on from a cursor. A reader
/// that keeps passing the last page's cursor sees every record exactly once, and a page read again is the same.
/// </summary>
public sealed class UsageFeed(NpgsqlDataSource dataSource)
{
    public const int DefaultLimit = 1000;
    public const int MaxLimit = 10_000;

    /// <summary>Up to <paramref name="limit"/> records after <paramref name="after"/>: one organisation's, or everyone's when it is null.</summary>
    public async Task<UsagePage> ReadAsync(Guid? organizationId, FeedPosition after, int limit, CancellationToken ct)
    {
        // Reading "seq > checkpoint" would lose records: seq is handed out at insert, not at commit, so a transaction that
        // commits late can leave a lower seq behind a reader that has moved on. As in the event store (EventStore.ReadAllAsync),
        // records are ordered by the writing transaction's id and read only below the oldest transaction still running
        // (pg_snapshot_xmin): those have all committed or rolled back, so nothing can appear later below the cursor.
        // ORDER BY names the table's columns: a bare transaction_id could bind to an output column, and the text form
        // would sort xid 1000 before 999 (the output column is named transaction_id_text for that reason too).
        // Proven by FeedTests.A_record_committed_after_a_later_one_is_not_skipped and
        // FeedTests.A_reader_keeping_the_cursor_sees_every_record_once_while_writers_commit_concurrently.
        var filter = organizationId is null ? "" : "organization_id = $4 AND";
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand($"""
            SELECT transaction_id::text AS transaction_id_text, seq, id, organization_id, box_id, kind, weight, size,
                   start_at, end_at, vcpus, vcpu_ms
            FROM billing.usage_records
            WHERE {filter} (transaction_id, seq) > ($1::text::xid8, $2)
              AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY usage_records.transaction_id, usage_records.seq
            LIMIT $3
            """, conn);
        cmd.Parameters.Add(new() { Value = after.TransactionId.ToString(CultureInfo.InvariantCulture) });
        cmd.Parameters.Add(new() { Value = after.Seq });
        cmd.Parameters.Add(new() { Value = limit });
        if (organizationId is { } org) cmd.Parameters.Add(new() { Value = org });

        var records = new List<UsageRecord>();
        var next = after;
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            next = new FeedPosition(ulong.Parse(r.GetString(0), CultureInfo.InvariantCulture), r.GetInt64(1));
            records.Add(new UsageRecord(
                r.GetGuid(2), r.GetGuid(3), r.GetGuid(4), r.GetString(5),
                r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7),
                r.GetFieldValue<DateTimeOffset>(8), r.GetFieldValue<DateTimeOffset>(9), r.GetDecimal(10), r.GetInt64(11)));
        }
        return new UsagePage(records, next);
    }
}
