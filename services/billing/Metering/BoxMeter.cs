using Boxes.Contracts;
using Boxes.EventStore;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace Boxes.Billing.Metering;

/// <summary>
/// Meters one box: reads its whole stream, folds it into running intervals, cuts them into pieces and writes every
/// piece that is over as a usage record. It trusts neither the order nor the number of the bus's deliveries: whatever
/// event woke it, it recomputes from the stream, and a piece's record id is derived from the piece, so running it
/// twice, a hundred times, concurrently or late writes each piece once.
/// </summary>
public sealed class BoxMeter(
    EventStore.EventStore store, NpgsqlDataSource dataSource, VcpuRates rates, IOptions<BillingOptions> options,
    TimeProvider clock, ILogger<BoxMeter> logger)
{
    /// <summary>Meters the box from its stream as it is now.</summary>
    public async Task<int> MeterAsync(Guid boxId, CancellationToken ct)
    {
        // "Now" is taken BEFORE the stream is read: a piece of a still-open interval is written only once its end is
        // Billing:Grace before this instant, so an event appended up to Grace after its own timestamp (a pause, an end)
        // is already in what we read, and no piece is written past a pause or end we had not seen yet.
        // Proven by OrderingTests.A_pause_appended_a_moment_late_with_an_earlier_timestamp_still_counts.
        var now = clock.GetUtcNow();
        var stream = await store.ReadStreamAsync(Streams.ForBox(boxId), ct: ct);
        return await ApplyAsync(boxId, stream, now, ct);
    }

    /// <summary>
    /// Writes the due pieces of the box whose stream is <paramref name="stream"/>, read after <paramref name="now"/> was
    /// taken. Returns how many records were new.
    /// </summary>
    public async Task<int> ApplyAsync(Guid boxId, IReadOnlyList<RecordedEvent> stream, DateTimeOffset now, CancellationToken ct)
    {
        if (stream.Count == 0 || MeteredBox.From(boxId, stream) is not { } box)
        {
            logger.LogWarning("Box {BoxId} has no BoxRequested in its stream; there is nothing to meter", boxId);
            return 0;
        }

        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var row = await LockBoxAsync(tx, box, ct);
        // Writers of one box take turns on its row (FOR UPDATE). One that read an older stream than the row was last
        // computed from has nothing to add (the newer writer's pieces include its own) and must not move the row back
        // to an older state: a late "ready" would otherwise mark an ended box running again.
        // Proven by RedeliveryTests.A_writer_that_read_an_older_stream_changes_nothing.
        if (box.Version < row.Version) return 0;

        var length = TimeSpan.FromMilliseconds(row.IntervalMs);
        var grace = options.Value.Grace;
        var open = box.Open;
        // The closer's pass over an unchanged stream: every closed interval was written in full by the writer that last
        // moved the row, so only the open interval's pieces from the first unwritten one need cutting.
        var sameOpen = box.Version == row.Version && open is not null && row.OpenSince == open.From;
        var pieces = sameOpen
            ? Pieces.Due(open!, length, grace, now, row.WrittenPieces).ToList()
            : box.Intervals.SelectMany(i => Pieces.Due(i, length, grace, now)).ToList();
        var inserted = pieces.Count == 0 ? 0 : await InsertAsync(tx, box, row.Vcpus, pieces, ct);

        var written = open is null ? 0 : Pieces.DueCount(open.From, length, grace, now);
        if (sameOpen) written = Math.Max(written, row.WrittenPieces);
        DateTimeOffset? nextDue = open is null ? null : open.From + TimeSpan.FromTicks(length.Ticks * (written + 1)) + grace;
        await using (var update = new NpgsqlCommand("""
            UPDATE billing.boxes
            SET version = $2, running = $3, open_since = $4, written_pieces = $5, next_due_at = $6, updated_at = now()
            WHERE box_id = $1
            """, conn, tx))
        {
            update.Parameters.Add(new() { Value = box.BoxId });
            update.Parameters.Add(new() { Value = box.Version });
            update.Parameters.Add(new() { Value = open is not null });
            update.Parameters.Add(new() { Value = (object?)open?.From ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            update.Parameters.Add(new() { Value = written });
            update.Parameters.Add(new() { Value = (object?)nextDue ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            await update.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        if (inserted > 0)
            logger.LogDebug("Wrote {Count} usage record(s) for box {BoxId} of organisation {OrganizationId}", inserted, box.BoxId, box.OrganizationId);
        return inserted;
    }

    private sealed record BoxRow(decimal Vcpus, long IntervalMs, long Version, DateTimeOffset? OpenSince, long WrittenPieces);

    /// <summary>The box's row, made on first sight with the rate and piece length it keeps for life, and locked.</summary>
    private async Task<BoxRow> LockBoxAsync(NpgsqlTransaction tx, MeteredBox box, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(tx.Connection, tx);
        var insert = new NpgsqlBatchCommand("""
            INSERT INTO billing.boxes (box_id, organization_id, kind, weight, size, vcpus, interval_ms)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (box_id) DO NOTHING
            """);
        insert.Parameters.Add(new() { Value = box.BoxId });
        insert.Parameters.Add(new() { Value = box.OrganizationId });
        insert.Parameters.Add(new() { Value = box.Kind });
        insert.Parameters.Add(new() { Value = (object?)box.Weight ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = (object?)box.Size ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = (decimal)rates.For(box.Kind, box.Spec) });
        insert.Parameters.Add(new() { Value = (long)options.Value.IntervalLength.TotalMilliseconds });
        batch.BatchCommands.Add(insert);
        var select = new NpgsqlBatchCommand(
            "SELECT vcpus, interval_ms, version, open_since, written_pieces FROM billing.boxes WHERE box_id = $1 FOR UPDATE");
        select.Parameters.Add(new() { Value = box.BoxId });
        batch.BatchCommands.Add(select);
        await using var r = await batch.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) throw new InvalidOperationException($"The billing row of box {box.BoxId} vanished.");
        return new BoxRow(r.GetDecimal(0), r.GetInt64(1), r.GetInt64(2),
            r.IsDBNull(3) ? null : r.GetFieldValue<DateTimeOffset>(3), r.GetInt64(4));
    }

    /// <summary>Inserts the pieces as usage records; a piece already recorded is left as it is. Returns how many were new.</summary>
    private static async Task<int> InsertAsync(NpgsqlTransaction tx, MeteredBox box, decimal vcpus, IReadOnlyList<Piece> pieces, CancellationToken ct)
    {
        // ON CONFLICT (id) DO NOTHING: the id is the piece's, so a second writer of the same piece (a redelivery, another
        // billing process, the closer) waits for the first one's commit and then writes nothing.
        // Proven by RedeliveryTests.The_same_event_delivered_again_is_counted_once.
        // ORDER BY start_at: within one transaction the feed lists a box's pieces in time order.
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO billing.usage_records (id, organization_id, box_id, kind, weight, size, start_at, end_at, duration_ms, vcpus, vcpu_ms)
            SELECT p.id, $2, $3, $4, $5, $6, p.start_at, p.end_at, p.duration_ms, $7, p.vcpu_ms
            FROM unnest($1::uuid[], $8::timestamptz[], $9::timestamptz[], $10::bigint[], $11::bigint[])
                 AS p (id, start_at, end_at, duration_ms, vcpu_ms)
            ORDER BY p.start_at
            ON CONFLICT (id) DO NOTHING
            """, tx.Connection, tx);
        cmd.Parameters.Add(new() { Value = pieces.Select(p => p.RecordId(box.BoxId)).ToArray() });
        cmd.Parameters.Add(new() { Value = box.OrganizationId });
        cmd.Parameters.Add(new() { Value = box.BoxId });
        cmd.Parameters.Add(new() { Value = box.Kind });
        cmd.Parameters.Add(new() { Value = (object?)box.Weight ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = (object?)box.Size ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = vcpus });
        cmd.Parameters.Add(new() { Value = pieces.Select(p => p.Start).ToArray() });
        cmd.Parameters.Add(new() { Value = pieces.Select(p => p.End).ToArray() });
        cmd.Parameters.Add(new() { Value = pieces.Select(p => p.Milliseconds).ToArray() });
        cmd.Parameters.Add(new() { Value = pieces.Select(p => Pieces.VcpuMilliseconds(vcpus, p.Milliseconds)).ToArray() });
        return await cmd.ExecuteNonQueryAsync(ct);
    }
}
