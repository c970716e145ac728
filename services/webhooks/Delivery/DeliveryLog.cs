using System.Buffers.Text;
using System.Text;
using Npgsql;

namespace Boxes.Webhooks.Delivery;

public sealed record AttemptView(int Attempt, DateTimeOffset At, int? StatusCode, string? Error, int DurationMs, DateTimeOffset? NextAttemptAt);

public sealed record DeliveryView(
    Guid DeliveryId, Guid EventId, string Type, string Status, DateTimeOffset CreatedAt, DateTimeOffset? NextAttemptAt,
    IReadOnlyList<AttemptView> Attempts);

public sealed record DeliveryPage(IReadOnlyList<DeliveryView> Items, string? NextCursor);

/// <summary>What happened to an endpoint's deliveries, newest first, and replays. Scoped by organisation like every endpoint query.</summary>
public sealed class DeliveryLog(NpgsqlDataSource dataSource)
{
    /// <summary>A page of the endpoint's deliveries; null when the endpoint is not the organisation's (or does not exist).</summary>
    public async Task<DeliveryPage?> ListAsync(Guid organizationId, Guid endpointId, int limit, DeliveryCursor? after, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using (var owner = new NpgsqlCommand(
            "SELECT 1 FROM webhooks.endpoints WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL", conn))
        {
            owner.Parameters.Add(new() { Value = endpointId });
            owner.Parameters.Add(new() { Value = organizationId });
            if (await owner.ExecuteScalarAsync(ct) is null) return null;
        }

        var rows = new List<(Guid Id, Guid EventId, string Type, string Status, DateTimeOffset CreatedAt, DateTimeOffset? Next)>();
        await using (var cmd = new NpgsqlCommand("""
            SELECT d.id, d.event_id, d.type,
                   CASE WHEN d.status = 'pending' AND d.locked_until > $3 THEN 'delivering' ELSE d.status END,
                   d.created_at, d.next_attempt_at
            FROM webhooks.deliveries d
            JOIN webhooks.endpoints e ON e.id = d.endpoint_id
            WHERE d.endpoint_id = $1 AND e.organization_id = $2
              AND ($4::timestamptz IS NULL OR (d.created_at, d.id) < ($4::timestamptz, $5::uuid))
            ORDER BY d.created_at DESC, d.id DESC
            LIMIT $6
            """, conn))
        {
            cmd.Parameters.Add(new() { Value = endpointId });
            cmd.Parameters.Add(new() { Value = organizationId });
            cmd.Parameters.Add(new() { Value = now });
            cmd.Parameters.Add(new() { Value = (object?)after?.CreatedAt ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            cmd.Parameters.Add(new() { Value = (object?)after?.Id ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid });
            cmd.Parameters.Add(new() { Value = limit + 1 });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
                rows.Add((r.GetGuid(0), r.GetGuid(1), r.GetString(2), r.GetString(3), r.GetFieldValue<DateTimeOffset>(4),
                    r.IsDBNull(5) ? null : r.GetFieldValue<DateTimeOffset>(5)));
        }
        var more = rows.Count > limit;
        if (more) rows.RemoveAt(rows.Count - 1);

        var attempts = rows.ToDictionary(x => x.Id, _ => new List<AttemptView>());
        if (rows.Count > 0)
        {
            await using var cmd = new NpgsqlCommand("""
                SELECT delivery_id, attempt, started_at, status_code, error, duration_ms, next_attempt_at
                FROM webhooks.attempts WHERE delivery_id = ANY ($1) ORDER BY delivery_id, attempt
                """, conn);
            cmd.Parameters.Add(new() { Value = rows.Select(x => x.Id).ToArray() });
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
                attempts[r.GetGuid(0)].Add(new AttemptView(r.GetInt32(1), r.GetFieldValue<DateTimeOffset>(2),
                    r.IsDBNull(3) ? null : r.GetInt32(3), r.IsDBNull(4) ? null : r.GetString(4), r.GetInt32(5),
                    r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6)));
        }

        var items = rows.Select(x => new DeliveryView(x.Id, x.EventId, x.Type, x.Status, x.CreatedAt, x.Next, attempts[x.Id])).ToList();
        return new DeliveryPage(items, more ? new DeliveryCursor(rows[^1].CreatedAt, rows[^1].Id).Encode() : null);
    }

    public enum ReplayResult { Replayed, NotFound, StillPending, EndpointDisabled }

    /// <summary>
    /// Tries a finished delivery again from the first step of the schedule, with the same webhook-id (the same row).
    /// Its attempts keep counting up, so the log stays one sequence of attempt numbers.
    /// </summary>
    public async Task<ReplayResult> ReplayAsync(Guid organizationId, Guid endpointId, Guid deliveryId, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // The endpoint row first (FOR SHARE: a disable or delete cannot slip in before our update), then the delivery.
        bool disabled;
        await using (var owner = new NpgsqlCommand("""
            SELECT disabled_at IS NOT NULL FROM webhooks.endpoints WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL FOR SHARE
            """, conn, tx))
        {
            owner.Parameters.Add(new() { Value = endpointId });
            owner.Parameters.Add(new() { Value = organizationId });
            if (await owner.ExecuteScalarAsync(ct) is not bool d) return ReplayResult.NotFound;
            disabled = d;
        }
        string? status;
        await using (var find = new NpgsqlCommand("SELECT status FROM webhooks.deliveries WHERE id = $1 AND endpoint_id = $2 FOR UPDATE", conn, tx))
        {
            find.Parameters.Add(new() { Value = deliveryId });
            find.Parameters.Add(new() { Value = endpointId });
            status = await find.ExecuteScalarAsync(ct) as string;
        }
        if (status is null) return ReplayResult.NotFound;
        if (status == "pending") return ReplayResult.StillPending;
        if (disabled) return ReplayResult.EndpointDisabled;
        await using (var replay = new NpgsqlCommand("""
            UPDATE webhooks.deliveries SET status = 'pending', schedule_start = attempt_count, next_attempt_at = $2, locked_until = NULL
            WHERE id = $1
            """, conn, tx))
        {
            replay.Parameters.Add(new() { Value = deliveryId });
            replay.Parameters.Add(new() { Value = now });
            await replay.ExecuteNonQueryAsync(ct);
        }
        await DeliveryStore.NotifyAsync(conn, tx, ct);
        await tx.CommitAsync(ct);
        return ReplayResult.Replayed;
    }
}

/// <summary>Where a page of deliveries ended: (created_at, id) of its last row, opaque to callers.</summary>
public sealed record DeliveryCursor(DateTimeOffset CreatedAt, Guid Id)
{
    public string Encode()
    {
        var micros = (CreatedAt.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
        return Base64Url.EncodeToString(Encoding.ASCII.GetBytes($"{micros}.{Id:N}"));
    }

    public static bool TryDecode(string text, out DeliveryCursor? cursor)
    {
        cursor = null;
        try
        {
            var parts = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(text)).Split('.');
            if (parts.Length != 2 || !long.TryParse(parts[0], System.Globalization.CultureInfo.InvariantCulture, out var micros)
                || !Guid.TryParseExact(parts[1], "N", out var id))
                return false;
            cursor = new DeliveryCursor(DateTimeOffset.UnixEpoch.AddTicks(micros * 10), id);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
        catch (ArgumentOutOfRangeException)
        {
            return false;
        }
    }
}
