using Npgsql;

namespace Boxes.Webhooks.Delivery;

/// <summary>A delivery this process claimed, with what it needs to send it.</summary>
public sealed record ClaimedDelivery(
    Guid Id, Guid EndpointId, string Type, string Payload, int Attempt, int ScheduleStart, DateTimeOffset LeaseUntil,
    string Url, string Secret, string? PreviousSecret, DateTimeOffset? PreviousSecretExpiresAt)
{
    /// <summary>This attempt's place in its retry sequence (1 = the first), which picks the wait before the next.</summary>
    public int AttemptInSequence => Attempt - ScheduleStart;
}

/// <summary>How recording an attempt went.</summary>
public sealed record RecordResult(bool Recorded, string? Status, DateTimeOffset? NextAttemptAt, string? DisabledReason);

/// <summary>
/// The deliveries table as the delivery loop uses it: making deliveries, claiming due ones, recording attempts.
/// Every time comparison takes "now" from the caller (the service's TimeProvider), never from now(), so that
/// tests can move the clock.
/// </summary>
public sealed class DeliveryStore(NpgsqlDataSource dataSource)
{
    /// <summary>Notified (at commit) whenever a delivery becomes due now: the loop wakes at once instead of at its next poll.</summary>
    public const string NotificationChannel = "webhook_deliveries";

    /// <summary>
    /// One delivery per active endpoint of the organisation subscribed to <paramref name="type"/>. The insert is
    /// idempotent by (endpoint, event) through the unique key and ON CONFLICT DO NOTHING: a redelivered event, or the same
    /// event consumed by two webhooks processes at once, makes no second delivery. Proven by
    /// DeliveryStoreTests.The_same_event_enqueued_by_many_consumers_at_once_makes_one_delivery_per_endpoint and
    /// RedeliveryTests.An_event_the_bus_delivers_three_times_makes_one_delivery.
    /// </summary>
    public async Task<int> EnqueueForSubscribersAsync(Guid organizationId, Guid eventId, string type, string payload, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO webhooks.deliveries (id, endpoint_id, event_id, type, payload, status, next_attempt_at, created_at)
            SELECT gen_random_uuid(), e.id, $2, $3, $4::json, 'pending', $5, $5
            FROM webhooks.endpoints e
            WHERE e.organization_id = $1 AND e.deleted_at IS NULL AND e.disabled_at IS NULL AND $3 = ANY (e.event_types)
            ON CONFLICT (endpoint_id, event_id) DO NOTHING
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = organizationId });
        cmd.Parameters.Add(new() { Value = eventId });
        cmd.Parameters.Add(new() { Value = type });
        cmd.Parameters.Add(new() { Value = payload });
        cmd.Parameters.Add(new() { Value = now });
        var inserted = await cmd.ExecuteNonQueryAsync(ct);
        if (inserted > 0) await NotifyAsync(conn, tx, ct);
        await tx.CommitAsync(ct);
        return inserted;
    }

    /// <summary>One delivery to one endpoint (the test event), due now. Returns its id.</summary>
    public async Task<Guid> EnqueueAsync(Guid endpointId, Guid eventId, string type, string payload, DateTimeOffset now, CancellationToken ct)
    {
        var id = Guid.NewGuid();
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO webhooks.deliveries (id, endpoint_id, event_id, type, payload, status, next_attempt_at, created_at)
            VALUES ($1, $2, $3, $4, $5::json, 'pending', $6, $6)
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = endpointId });
        cmd.Parameters.Add(new() { Value = eventId });
        cmd.Parameters.Add(new() { Value = type });
        cmd.Parameters.Add(new() { Value = payload });
        cmd.Parameters.Add(new() { Value = now });
        await cmd.ExecuteNonQueryAsync(ct);
        await NotifyAsync(conn, tx, ct);
        await tx.CommitAsync(ct);
        return id;
    }

    public static async Task NotifyAsync(NpgsqlConnection conn, NpgsqlTransaction tx, CancellationToken ct)
    {
        await using var notify = new NpgsqlCommand($"SELECT pg_notify('{NotificationChannel}', '')", conn, tx);
        await notify.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Claims up to <paramref name="max"/> due deliveries for this process, at most <paramref name="perEndpoint"/>
    /// in flight per endpoint across all processes, oldest due first within each endpoint.
    /// </summary>
    /// <remarks>
    /// A claim is a lease (locked_until), not a held transaction: sending takes up to the timeout and must not hold
    /// row locks or a transaction open. FOR UPDATE SKIP LOCKED lets claimers pass over each other's rows instead of
    /// queueing behind them, and the lease keeps a claimed row from everyone else until it is recorded (or the
    /// process died and the lease ran out). The per-endpoint cap counts rows in flight, which a concurrent claimer
    /// could change between our count and our update: claims therefore take one transaction-scoped advisory lock,
    /// so each claim counts after the previous one committed (READ COMMITTED: the statement's snapshot is taken after
    /// the lock is granted). Claims are a single short statement, so serialising them costs nothing that matters.
    /// The lateral subquery takes each endpoint's own share (cap minus in flight), so an endpoint with a backlog
    /// cannot fill every slot and starve the others. Proven by
    /// DeliveryStoreTests.Concurrent_claimers_together_never_take_more_than_the_cap_of_one_endpoint (it fails without the
    /// advisory lock), ConcurrencyTests.A_slow_endpoint_does_not_delay_a_fast_one_and_never_has_more_than_the_cap_in_flight
    /// and RedeliveryTests.Two_service_instances_consuming_and_delivering_at_once_make_one_delivery_sequence_per_event.
    /// </remarks>
    public async Task<IReadOnlyList<ClaimedDelivery>> ClaimAsync(DateTimeOffset now, int max, int perEndpoint, TimeSpan lease, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var gate = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended('webhooks-claim', 0))", conn, tx))
            await gate.ExecuteNonQueryAsync(ct);
        await using var cmd = new NpgsqlCommand("""
            WITH busy AS (
                SELECT endpoint_id, count(*)::int AS in_flight
                FROM webhooks.deliveries
                WHERE status = 'pending' AND locked_until > $1
                GROUP BY endpoint_id
            ), picked AS (
                SELECT due.id, due.next_attempt_at
                FROM webhooks.endpoints e
                LEFT JOIN busy b ON b.endpoint_id = e.id
                CROSS JOIN LATERAL (
                    SELECT d.id, d.next_attempt_at
                    FROM webhooks.deliveries d
                    WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= $1
                      AND (d.locked_until IS NULL OR d.locked_until <= $1)
                    ORDER BY d.next_attempt_at, d.id
                    LIMIT greatest($2 - coalesce(b.in_flight, 0), 0)
                    FOR UPDATE SKIP LOCKED
                ) due
                WHERE e.deleted_at IS NULL AND e.disabled_at IS NULL
                  AND e.id IN (SELECT endpoint_id FROM webhooks.deliveries WHERE status = 'pending' AND next_attempt_at <= $1)
                ORDER BY due.next_attempt_at
                LIMIT $3
            )
            UPDATE webhooks.deliveries d SET locked_until = $4
            FROM picked, webhooks.endpoints e
            WHERE d.id = picked.id AND e.id = d.endpoint_id
            RETURNING d.id, d.endpoint_id, d.type, d.payload::text, d.attempt_count, d.schedule_start, d.locked_until,
                      e.url, e.secret, e.previous_secret, e.previous_secret_expires_at
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = now });
        cmd.Parameters.Add(new() { Value = perEndpoint });
        cmd.Parameters.Add(new() { Value = max });
        cmd.Parameters.Add(new() { Value = now + lease });
        var claimed = new List<ClaimedDelivery>();
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
            {
                claimed.Add(new ClaimedDelivery(
                    r.GetGuid(0), r.GetGuid(1), r.GetString(2), r.GetString(3), r.GetInt32(4) + 1, r.GetInt32(5),
                    r.GetFieldValue<DateTimeOffset>(6), r.GetString(7), r.GetString(8),
                    r.IsDBNull(9) ? null : r.GetString(9), r.IsDBNull(10) ? null : r.GetFieldValue<DateTimeOffset>(10)));
            }
        }
        await tx.CommitAsync(ct);
        return claimed;
    }

    /// <summary>
    /// When the loop next has something to claim: the earliest due delivery of an endpoint below its cap, or the
    /// earliest lease to run out (a process that died mid-attempt). Null when nothing is pending.
    /// </summary>
    public async Task<DateTimeOffset?> NextDueAsync(DateTimeOffset now, int perEndpoint, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            WITH busy AS (
                SELECT endpoint_id, count(*)::int AS in_flight, min(locked_until) AS lease_ends
                FROM webhooks.deliveries
                WHERE status = 'pending' AND locked_until > $1
                GROUP BY endpoint_id
            )
            SELECT least(
                (SELECT min(lease_ends) FROM busy),
                (SELECT min(d.next_attempt_at)
                 FROM webhooks.deliveries d
                 JOIN webhooks.endpoints e ON e.id = d.endpoint_id
                 LEFT JOIN busy b ON b.endpoint_id = d.endpoint_id
                 WHERE d.status = 'pending' AND (d.locked_until IS NULL OR d.locked_until <= $1)
                   AND e.deleted_at IS NULL AND e.disabled_at IS NULL AND coalesce(b.in_flight, 0) < $2))
            """);
        cmd.Parameters.Add(new() { Value = now });
        cmd.Parameters.Add(new() { Value = perEndpoint });
        return await cmd.ExecuteScalarAsync(ct) is DateTime at ? new DateTimeOffset(DateTime.SpecifyKind(at, DateTimeKind.Utc)) : null;
    }

    /// <summary>
    /// Records an attempt and what follows from it, in one transaction: the attempt row, the delivery's status and
    /// next attempt, the endpoint's failing_since, and (after a 410 or too long a failure) the endpoint disabled
    /// with its other pending deliveries stopped.
    /// </summary>
    /// <remarks>
    /// The endpoint row is locked first (its UPDATE), then deliveries: every writer here and in EndpointStore takes
    /// them in that order, so they cannot deadlock. The delivery is updated only while our lease still holds
    /// (locked_until = the lease we were given): if it ran out and another process took the delivery, this attempt
    /// is dropped rather than written over theirs. Proven by
    /// DeliveryStoreTests.A_claimed_delivery_is_taken_again_only_when_its_lease_ran_out_and_the_late_attempt_is_then_not_recorded.
    /// </remarks>
    public async Task<RecordResult> RecordAsync(
        ClaimedDelivery delivery, AttemptOutcome outcome, Func<DateTimeOffset?> nextAttempt, DateTimeOffset now, TimeSpan disableAfter, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);

        DateTimeOffset? failingSince;
        bool active;
        await using (var endpoint = new NpgsqlCommand("""
            UPDATE webhooks.endpoints SET failing_since = CASE WHEN $2 THEN NULL ELSE coalesce(failing_since, $3) END
            WHERE id = $1
            RETURNING failing_since, disabled_at IS NULL AND deleted_at IS NULL
            """, conn, tx))
        {
            endpoint.Parameters.Add(new() { Value = delivery.EndpointId });
            endpoint.Parameters.Add(new() { Value = outcome.Succeeded });
            endpoint.Parameters.Add(new() { Value = outcome.StartedAt });
            await using var r = await endpoint.ExecuteReaderAsync(ct);
            if (!await r.ReadAsync(ct)) return new RecordResult(false, null, null, null);
            failingSince = r.IsDBNull(0) ? null : r.GetFieldValue<DateTimeOffset>(0);
            active = r.GetBoolean(1);
        }

        string? disable = null;
        if (active && outcome.Gone)
            disable = $"The endpoint answered 410 Gone at {outcome.StartedAt:yyyy-MM-dd HH:mm:ss} UTC, so it is disabled; enable it again once it accepts deliveries.";
        else if (active && !outcome.Succeeded && failingSince is { } since && now - since > disableAfter)
            disable = $"Every delivery has failed since {since:yyyy-MM-dd HH:mm:ss} UTC, for more than {WebhooksOptions.Describe(disableAfter)}, so the endpoint is disabled. Last error: {outcome.Error}";

        DateTimeOffset? next = outcome.Succeeded || !active || disable is not null ? null : nextAttempt();
        var status = outcome.Succeeded ? "succeeded" : next is null ? "failed" : "pending";

        await using (var update = new NpgsqlCommand("""
            UPDATE webhooks.deliveries SET status = $2, attempt_count = $3, next_attempt_at = $4, locked_until = NULL
            WHERE id = $1 AND locked_until = $5
            """, conn, tx))
        {
            update.Parameters.Add(new() { Value = delivery.Id });
            update.Parameters.Add(new() { Value = status });
            update.Parameters.Add(new() { Value = delivery.Attempt });
            update.Parameters.Add(new() { Value = (object?)next ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            update.Parameters.Add(new() { Value = delivery.LeaseUntil });
            if (await update.ExecuteNonQueryAsync(ct) == 0) return new RecordResult(false, null, null, null);
        }

        await using (var attempt = new NpgsqlCommand("""
            INSERT INTO webhooks.attempts (delivery_id, attempt, started_at, duration_ms, status_code, error, next_attempt_at)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, conn, tx))
        {
            attempt.Parameters.Add(new() { Value = delivery.Id });
            attempt.Parameters.Add(new() { Value = delivery.Attempt });
            attempt.Parameters.Add(new() { Value = outcome.StartedAt });
            attempt.Parameters.Add(new() { Value = outcome.DurationMs });
            attempt.Parameters.Add(new() { Value = (object?)outcome.StatusCode ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
            attempt.Parameters.Add(new() { Value = (object?)outcome.Error ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            attempt.Parameters.Add(new() { Value = (object?)next ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.TimestampTz });
            await attempt.ExecuteNonQueryAsync(ct);
        }

        if (disable is not null) await DisableAsync(conn, tx, delivery.EndpointId, now, disable, ct);
        await tx.CommitAsync(ct);
        return new RecordResult(true, status, next, disable);
    }

    /// <summary>Disables an endpoint (its row must already be locked by this transaction, or be locked here first) and stops its pending deliveries.</summary>
    public static async Task DisableAsync(NpgsqlConnection conn, NpgsqlTransaction tx, Guid endpointId, DateTimeOffset now, string reason, CancellationToken ct)
    {
        await using var batch = new NpgsqlBatch(conn, tx);
        var endpoint = new NpgsqlBatchCommand("""
            UPDATE webhooks.endpoints SET disabled_at = $2, disabled_reason = $3 WHERE id = $1 AND disabled_at IS NULL
            """);
        endpoint.Parameters.Add(new() { Value = endpointId });
        endpoint.Parameters.Add(new() { Value = now });
        endpoint.Parameters.Add(new() { Value = reason });
        batch.BatchCommands.Add(endpoint);
        batch.BatchCommands.Add(StopPending(endpointId));
        await batch.ExecuteNonQueryAsync(ct);
    }

    /// <summary>Pending deliveries of an endpoint that is going away or disabled are given up (they can be replayed later).</summary>
    public static NpgsqlBatchCommand StopPending(Guid endpointId)
    {
        var stop = new NpgsqlBatchCommand("""
            UPDATE webhooks.deliveries SET status = 'failed', next_attempt_at = NULL WHERE endpoint_id = $1 AND status = 'pending'
            """);
        stop.Parameters.Add(new() { Value = endpointId });
        return stop;
    }

    /// <summary>Gives a claimed delivery back without an attempt (the process is stopping): another process may take it at once.</summary>
    public async Task ReleaseAsync(ClaimedDelivery delivery, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("UPDATE webhooks.deliveries SET locked_until = NULL WHERE id = $1 AND locked_until = $2");
        cmd.Parameters.Add(new() { Value = delivery.Id });
        cmd.Parameters.Add(new() { Value = delivery.LeaseUntil });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
