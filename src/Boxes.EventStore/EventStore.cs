using Npgsql;
using NpgsqlTypes;

namespace Boxes.EventStore;

/// <summary>An event to append. <see cref="EventId"/> makes appends idempotent: appending an id that is already stored is a no-op.</summary>
public sealed record EventData(Guid EventId, string Type, string Data, string? Metadata = null);

/// <summary>An event as stored.</summary>
public sealed record RecordedEvent(
    Guid EventId, string StreamId, long Version, long GlobalPosition, ulong TransactionId,
    string Type, string Data, string? Metadata, DateTimeOffset RecordedAt)
{
    public LogPosition Position => new(TransactionId, GlobalPosition);
}

/// <summary>A position in the whole log: ordered by the writing transaction's id, then by global position.</summary>
public readonly record struct LogPosition(ulong TransactionId, long GlobalPosition)
{
    public static readonly LogPosition Start = new(0, 0);
}

public static class ExpectedVersion
{
    /// <summary>Append whatever the stream's version.</summary>
    public const long Any = -1;
    /// <summary>The stream must not exist yet.</summary>
    public const long NoStream = 0;
}

public sealed class WrongExpectedVersionException(string streamId, long expected, long actual)
    : Exception($"Concurrency conflict on stream '{streamId}': expected version {expected} but it is at {actual}; nothing was written.")
{
    public string StreamId { get; } = streamId;
    public long Expected { get; } = expected;
    public long Actual { get; } = actual;
}

/// <summary>
/// Our event store on PostgreSQL: streams with versions, idempotent appends by event id, and a
/// whole-log read that never skips an event when transactions commit out of order.
/// </summary>
public sealed class EventStore(NpgsqlDataSource dataSource)
{
    public const string NotificationChannel = "event_store";

    public NpgsqlDataSource DataSource => dataSource;

    /// <summary>Appends in a transaction of its own. Returns the stream's version afterwards.</summary>
    public async Task<long> AppendAsync(string streamId, long expectedVersion, IReadOnlyList<EventData> events, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var version = await AppendAsync(tx, streamId, expectedVersion, events, ct);
        await tx.CommitAsync(ct);
        return version;
    }

    /// <summary>
    /// Takes the stream's lock. Call it as the FIRST statement of any transaction that will append to
    /// the stream (the AppendAsync overloads call it too; taking it twice is harmless).
    /// </summary>
    /// <remarks>
    /// Why an advisory lock and not SELECT ... FOR UPDATE: a row lock assigns the transaction its id
    /// before it waits, so a transaction could hold an older id than the one it queued behind and its
    /// event, one version later in the stream, would sort earlier in the whole log. An advisory lock
    /// assigns no id: the id is taken by the first insert, after the lock is held, so per-stream order
    /// and log order agree. Proven by EventStoreTests.Concurrent_appends_to_one_stream_keep_version_order_in_the_log.
    /// </remarks>
    public static async Task LockStreamAsync(NpgsqlTransaction tx, string streamId, CancellationToken ct = default)
    {
        await using var cmd = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", tx.Connection, tx);
        cmd.Parameters.Add(new() { Value = streamId });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Appends inside the caller's transaction, so that state changes and events commit together.</summary>
    public async Task<long> AppendAsync(NpgsqlTransaction tx, string streamId, long expectedVersion, IReadOnlyList<EventData> events, CancellationToken ct = default)
    {
        if (events.Count == 0) throw new ArgumentException("Nothing to append.", nameof(events));
        var conn = tx.Connection!;
        await LockStreamAsync(tx, streamId, ct);

        // Idempotency: a retried append of events already stored succeeds without writing again.
        var ids = events.Select(e => e.EventId).ToArray();
        var known = new HashSet<Guid>();
        await using (var cmd = new NpgsqlCommand("SELECT event_id FROM event_store.events WHERE event_id = ANY($1)", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = ids });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct)) known.Add(r.GetGuid(0));
        }

        long current;
        await using (var cmd = new NpgsqlCommand("SELECT version FROM event_store.streams WHERE stream_id = $1", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = streamId });
            current = await cmd.ExecuteScalarAsync(ct) is long v ? v : 0;
        }
        var fresh = events.Where(e => !known.Contains(e.EventId)).ToList();
        if (fresh.Count == 0) return current;
        if (known.Count == 0 && expectedVersion != ExpectedVersion.Any && expectedVersion != current)
            throw new WrongExpectedVersionException(streamId, expectedVersion, current);

        await using var batch = new NpgsqlBatch(conn, tx);
        var version = current;
        foreach (var e in fresh)
        {
            version++;
            var insert = new NpgsqlBatchCommand(
                "INSERT INTO event_store.events (event_id, stream_id, version, type, data, metadata) VALUES ($1, $2, $3, $4, $5, $6)");
            insert.Parameters.Add(new() { Value = e.EventId });
            insert.Parameters.Add(new() { Value = streamId });
            insert.Parameters.Add(new() { Value = version });
            insert.Parameters.Add(new() { Value = e.Type });
            insert.Parameters.Add(new() { Value = e.Data, NpgsqlDbType = NpgsqlDbType.Jsonb });
            insert.Parameters.Add(new() { Value = (object?)e.Metadata ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Jsonb });
            batch.BatchCommands.Add(insert);
        }
        var upsert = new NpgsqlBatchCommand("""
            INSERT INTO event_store.streams (stream_id, version) VALUES ($1, $2)
            ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version
            """);
        upsert.Parameters.Add(new() { Value = streamId });
        upsert.Parameters.Add(new() { Value = version });
        batch.BatchCommands.Add(upsert);
        // Delivered at commit: wakes readers (the relay, projections) at once instead of on their next poll.
        batch.BatchCommands.Add(new NpgsqlBatchCommand($"SELECT pg_notify('{NotificationChannel}', '')"));
        await batch.ExecuteNonQueryAsync(ct);
        return version;
    }

    public async Task<IReadOnlyList<RecordedEvent>> ReadStreamAsync(string streamId, long fromVersion = 1, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand($"""
            SELECT {Columns} FROM event_store.events WHERE stream_id = $1 AND version >= $2 ORDER BY version
            """, conn);
        cmd.Parameters.Add(new() { Value = streamId });
        cmd.Parameters.Add(new() { Value = fromVersion });
        return await ReadEvents(cmd, ct);
    }

    /// <summary>Reads several streams in one round trip, each in version order.</summary>
    public async Task<IReadOnlyDictionary<string, List<RecordedEvent>>> ReadStreamsAsync(IReadOnlyCollection<string> streamIds, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var cmd = new NpgsqlCommand($"""
            SELECT {Columns} FROM event_store.events WHERE stream_id = ANY($1) ORDER BY stream_id, version
            """, conn);
        cmd.Parameters.Add(new() { Value = streamIds.ToArray() });
        return (await ReadEvents(cmd, ct)).GroupBy(e => e.StreamId).ToDictionary(g => g.Key, g => g.ToList());
    }

    /// <summary>
    /// Reads the whole log after <paramref name="after"/>, in (transaction id, position) order.
    /// </summary>
    /// <remarks>
    /// Reading "global_position &gt; checkpoint" loses events: positions are handed out at insert, not at
    /// commit, so a slow transaction can commit position 7 after a reader has moved past 8. Instead we
    /// order by the writing transaction's id and only read events of transactions older than every
    /// transaction still running (pg_snapshot_xmin): those are all committed or aborted, so nothing can
    /// appear later below the checkpoint. Proven by EventStoreTests.Reading_the_log_skips_nothing_when_transactions_commit_out_of_order.
    /// </remarks>
    public async Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(LogPosition after, int maxCount, CancellationToken ct = default)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await ReadAllAsync(conn, after, maxCount, ct);
    }

    public static async Task<IReadOnlyList<RecordedEvent>> ReadAllAsync(NpgsqlConnection conn, LogPosition after, int maxCount, CancellationToken ct = default)
    {
        await using var cmd = new NpgsqlCommand($"""
            SELECT {Columns} FROM event_store.events
            WHERE (transaction_id, global_position) > ($1::text::xid8, $2)
              AND transaction_id < pg_snapshot_xmin(pg_current_snapshot())
            ORDER BY events.transaction_id, events.global_position
            LIMIT $3
            """, conn);
        cmd.Parameters.Add(new() { Value = after.TransactionId.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        cmd.Parameters.Add(new() { Value = after.GlobalPosition });
        cmd.Parameters.Add(new() { Value = maxCount });
        return await ReadEvents(cmd, ct);
    }

    /// <summary>True when committed events exist after <paramref name="after"/> that ReadAllAsync does not return yet because an older transaction is still running.</summary>
    public static async Task<bool> HasHeldBackEventsAsync(NpgsqlConnection conn, LogPosition after, CancellationToken ct = default)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT EXISTS (SELECT 1 FROM event_store.events WHERE (transaction_id, global_position) > ($1::text::xid8, $2))
            """, conn);
        cmd.Parameters.Add(new() { Value = after.TransactionId.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        cmd.Parameters.Add(new() { Value = after.GlobalPosition });
        return (bool)(await cmd.ExecuteScalarAsync(ct))!;
    }

    // The text form of transaction_id gets a name of its own: a bare ORDER BY name binds to an output column
    // before a table column, so "transaction_id::text" (output name transaction_id) would sort the log as text,
    // putting xid 1000 before 999. Proven by EventStoreTests.The_log_is_read_in_numeric_transaction_order_where_ids_gain_a_digit.
    private const string Columns = "event_id, stream_id, version, global_position, transaction_id::text AS transaction_id_text, type, data::text, metadata::text, recorded_at";

    private static async Task<IReadOnlyList<RecordedEvent>> ReadEvents(NpgsqlCommand cmd, CancellationToken ct)
    {
        var list = new List<RecordedEvent>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct))
        {
            list.Add(new RecordedEvent(
                r.GetGuid(0), r.GetString(1), r.GetInt64(2), r.GetInt64(3),
                ulong.Parse(r.GetString(4), System.Globalization.CultureInfo.InvariantCulture),
                r.GetString(5), r.GetString(6), r.IsDBNull(7) ? null : r.GetString(7),
                r.GetFieldValue<DateTimeOffset>(8)));
        }
        return list;
    }
}
