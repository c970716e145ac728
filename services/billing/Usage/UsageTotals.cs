using System.Data;
using Boxes.Billing.Metering;
using Boxes.Contracts;
using Npgsql;

namespace Boxes.Billing.Usage;

/// <summary>One kind's usage in a period: boxes metered in it, their running time in hours and their vCPU-seconds.</summary>
public sealed record KindUsage(int Sessions, decimal Hours, decimal VcpuSeconds);

/// <summary>An organisation's usage in [<see cref="From"/>, <see cref="To"/>).</summary>
public sealed record UsageReport(DateTimeOffset From, DateTimeOffset To, KindUsage Browser, KindUsage Sandbox, KindUsage Total);

/// <summary>
/// An organisation's usage in a period: the written records' milliseconds clipped to it, plus what running boxes have
/// used that no record covers yet, computed from their streams, so that the answer is current to the millisecond.
/// </summary>
public sealed class UsageTotals(NpgsqlDataSource dataSource, EventStore.EventStore store, TimeProvider clock)
{
    private sealed class Sum
    {
        public readonly HashSet<Guid> ExtraSessions = [];
        public int Sessions;
        public long Milliseconds;
        public long VcpuMilliseconds;
    }

    public async Task<UsageReport> ForOrganizationAsync(Guid organizationId, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var sums = new Dictionary<string, Sum>(StringComparer.Ordinal) { [BoxKinds.Browser] = new(), [BoxKinds.Sandbox] = new() };
        Sum For(string kind) => sums.TryGetValue(kind, out var s) ? s : sums[kind] = new();

        var running = new List<(Guid BoxId, string Kind, decimal Vcpus, long IntervalMs)>();
        var written = new HashSet<Guid>();
        var recordedInPeriod = new HashSet<Guid>();
        await using (var conn = await dataSource.OpenConnectionAsync(ct))
        // One snapshot for the records and the running boxes: a piece written between two separate reads would be
        // counted both as a record and as a running box's unwritten time (or as neither).
        // Proven by UsageTests.Usage_of_a_running_box_is_current_and_counted_once_while_its_pieces_are_written.
        await using (var tx = await conn.BeginTransactionAsync(IsolationLevel.RepeatableRead, ct))
        {
            await using (var cmd = new NpgsqlCommand("""
                SELECT kind, count(DISTINCT box_id)::int, coalesce(sum(clipped_ms), 0)::bigint,
                       coalesce(sum(CASE WHEN clipped_ms = duration_ms THEN vcpu_ms ELSE round(vcpus * clipped_ms) END), 0)::bigint
                FROM (
                    SELECT kind, box_id, vcpus, vcpu_ms, duration_ms,
                           round(extract(epoch FROM least(end_at, $3) - greatest(start_at, $2)) * 1000)::bigint AS clipped_ms
                    FROM billing.usage_records
                    WHERE organization_id = $1 AND end_at > $2 AND start_at < $3
                ) clipped
                GROUP BY kind
                """, conn, tx))
            {
                cmd.Parameters.Add(new() { Value = organizationId });
                cmd.Parameters.Add(new() { Value = from });
                cmd.Parameters.Add(new() { Value = to });
                await using var r = await cmd.ExecuteReaderAsync(ct);
                while (await r.ReadAsync(ct))
                {
                    var sum = For(r.GetString(0));
                    sum.Sessions += r.GetInt32(1);
                    sum.Milliseconds += r.GetInt64(2);
                    sum.VcpuMilliseconds += r.GetInt64(3);
                }
            }

            await using (var cmd = new NpgsqlCommand(
                "SELECT box_id, kind, vcpus, interval_ms FROM billing.boxes WHERE organization_id = $1 AND running", conn, tx))
            {
                cmd.Parameters.Add(new() { Value = organizationId });
                await using var r = await cmd.ExecuteReaderAsync(ct);
                while (await r.ReadAsync(ct)) running.Add((r.GetGuid(0), r.GetString(1), r.GetDecimal(2), r.GetInt64(3)));
            }

            if (running.Count > 0)
            {
                await using var cmd = new NpgsqlCommand("""
                    SELECT id, box_id, start_at < $3 AS in_period FROM billing.usage_records WHERE box_id = ANY ($1) AND end_at > $2
                    """, conn, tx);
                cmd.Parameters.Add(new() { Value = running.Select(b => b.BoxId).ToArray() });
                cmd.Parameters.Add(new() { Value = from });
                cmd.Parameters.Add(new() { Value = to });
                await using var r = await cmd.ExecuteReaderAsync(ct);
                while (await r.ReadAsync(ct))
                {
                    written.Add(r.GetGuid(0));
                    if (r.GetBoolean(2)) recordedInPeriod.Add(r.GetGuid(1));
                }
            }
            await tx.CommitAsync(ct);
        }

        // The running boxes' time that no record covers yet (the piece in progress, pieces not due or not closed yet),
        // cut exactly as the records will be, up to now (or the period's end).
        if (running.Count > 0)
        {
            var asOf = now < to ? now : to;
            var streams = await store.ReadStreamsAsync(running.Select(b => Streams.ForBox(b.BoxId)).ToList(), ct);
            foreach (var (boxId, kind, vcpus, intervalMs) in running)
            {
                if (!streams.TryGetValue(Streams.ForBox(boxId), out var stream) || MeteredBox.From(boxId, stream) is not { } box) continue;
                var length = TimeSpan.FromMilliseconds(intervalMs);
                var sum = For(kind);
                foreach (var interval in box.Intervals)
                    foreach (var piece in Pieces.Cut(interval, length, asOf))
                    {
                        if (written.Contains(piece.RecordId(boxId))) continue;
                        var ms = Pieces.OverlapMilliseconds(piece.Start, piece.End, from, to);
                        if (ms == 0) continue;
                        sum.Milliseconds += ms;
                        sum.VcpuMilliseconds += Pieces.VcpuMilliseconds(vcpus, ms);
                        if (!recordedInPeriod.Contains(boxId)) sum.ExtraSessions.Add(boxId);
                    }
            }
        }

        static KindUsage Usage(Sum s) => new(s.Sessions + s.ExtraSessions.Count, Hours(s.Milliseconds), s.VcpuMilliseconds / 1000m);
        var total = new Sum();
        foreach (var s in sums.Values)
        {
            total.Sessions += s.Sessions + s.ExtraSessions.Count;
            total.Milliseconds += s.Milliseconds;
            total.VcpuMilliseconds += s.VcpuMilliseconds;
        }
        return new UsageReport(from, to, Usage(sums[BoxKinds.Browser]), Usage(sums[BoxKinds.Sandbox]), Usage(total));
    }

    /// <summary>Milliseconds as hours, to six decimals (3.6 ms).</summary>
    public static decimal Hours(long milliseconds) => decimal.Round(milliseconds / 3_600_000m, 6, MidpointRounding.AwayFromZero);
}
