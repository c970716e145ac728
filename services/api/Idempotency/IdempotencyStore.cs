using System.Diagnostics;
using Npgsql;
using NpgsqlTypes;

namespace Boxes.Api.Idempotency;

/// <summary>Timings of <see cref="IdempotencyStore"/> (config section <c>Idempotency</c>).</summary>
public sealed record IdempotencyTimings(TimeSpan Retention, TimeSpan AbandonedAfter, TimeSpan InProgressWait, TimeSpan CleanupEvery)
{
    public const string Section = "Idempotency";

    /// <summary>
    /// A key is remembered 24 hours (as Stripe's are); a request still pending after a minute is taken to belong to a
    /// process that died (no create takes that long); a second request waits up to 30 s for the first to finish.
    /// </summary>
    public static IdempotencyTimings From(IConfiguration configuration)
    {
        var section = configuration.GetSection(Section);
        var timings = new IdempotencyTimings(
            section.GetValue<TimeSpan?>(nameof(Retention)) ?? TimeSpan.FromHours(24),
            section.GetValue<TimeSpan?>(nameof(AbandonedAfter)) ?? TimeSpan.FromSeconds(60),
            section.GetValue<TimeSpan?>(nameof(InProgressWait)) ?? TimeSpan.FromSeconds(30),
            section.GetValue<TimeSpan?>(nameof(CleanupEvery)) ?? TimeSpan.FromMinutes(10));
        foreach (var (name, value) in new[] { (nameof(Retention), timings.Retention), (nameof(AbandonedAfter), timings.AbandonedAfter), (nameof(CleanupEvery), timings.CleanupEvery) })
            if (value <= TimeSpan.Zero) throw new InvalidOperationException($"{Section}:{name} must be a positive time span, not {value}.");
        if (timings.InProgressWait < TimeSpan.Zero) throw new InvalidOperationException($"{Section}:{nameof(InProgressWait)} must not be negative, not {timings.InProgressWait}.");
        return timings;
    }
}

/// <summary>What <see cref="IdempotencyStore.ClaimAsync"/> found for a key.</summary>
public abstract record Claim
{
    /// <summary>The key is this request's to run under; it must end in <see cref="IdempotencyStore.CompleteAsync"/> or <see cref="IdempotencyStore.ReleaseAsync"/>.</summary>
    public sealed record Reserved(IdempotencyReservation Reservation) : Claim;
    /// <summary>An earlier request with this key and this very request finished: its answer.</summary>
    public sealed record Finished(StoredAnswer Answer) : Claim;
    /// <summary>The key was used for another request (another body or route) within the retention.</summary>
    public sealed record UsedForAnotherRequest : Claim;
    /// <summary>An earlier request with this key is still running and did not finish within the wait.</summary>
    public sealed record StillInProgress : Claim;
}

/// <summary>A key held by the running request: its organisation, the key, and the token that proves it still holds it.</summary>
public sealed class IdempotencyReservation(IdempotencyStore store, Guid organizationId, string key, Guid token)
{
    public Guid OrganizationId => organizationId;
    public string Key => key;
    public Guid Token => token;

    /// <summary>True once the answer is stored (by the handler inside its own transaction, or by the filter).</summary>
    public bool Completed { get; private set; }

    /// <summary>
    /// Stores <paramref name="answer"/> inside the caller's transaction, so that what the request created and the answer
    /// a retry gets commit together. Throws <see cref="IdempotencyReservationLostException"/> when another request took
    /// the key over meanwhile (this one ran past <see cref="IdempotencyTimings.AbandonedAfter"/>): the caller's
    /// transaction must then roll back, the other request does the work.
    /// </summary>
    public async Task CompleteWithinAsync(NpgsqlTransaction tx, StoredAnswer answer, CancellationToken ct)
    {
        if (!await store.CompleteAsync(this, answer, tx, ct)) throw new IdempotencyReservationLostException(key);
        Completed = true;
    }

    internal void MarkCompleted() => Completed = true;
}

/// <summary>The request no longer holds its Idempotency-Key: a later request with the key took it over as abandoned.</summary>
public sealed class IdempotencyReservationLostException(string key)
    : Exception($"The Idempotency-Key \"{key}\" was taken over by a later request while this one was still running.");

/// <summary>
/// The <c>api.idempotency_keys</c> rows (migration 003): one per organisation and key. Reserving is one
/// <c>INSERT ... ON CONFLICT</c>, so of any number of concurrent requests with a key exactly one holds it; the others
/// poll the row until it is done (its answer), gone (its request failed with a 5xx: they try to reserve again) or the
/// wait is over. Times come from the API's <see cref="TimeProvider"/>; the wait itself is real time.
/// </summary>
public sealed class IdempotencyStore(NpgsqlDataSource dataSource, TimeProvider clock, IdempotencyTimings timings, ILogger<IdempotencyStore> logger)
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);
    private const int CleanupBatch = 10_000;
    private long _nextCleanupTicks;

    public IdempotencyTimings Timings => timings;

    public async Task<Claim> ClaimAsync(Guid organizationId, string key, byte[] requestHash, CancellationToken ct)
    {
        await CleanupIfDueAsync(ct);
        var waitingSince = Stopwatch.GetTimestamp();
        while (true)
        {
            var token = Guid.NewGuid();
            if (await TryReserveAsync(organizationId, key, requestHash, token, ct))
                return new Claim.Reserved(new IdempotencyReservation(this, organizationId, key, token));
            var row = await ReadAsync(organizationId, key, ct);
            if (row is { } found)
            {
                if (!found.RequestHash.AsSpan().SequenceEqual(requestHash)) return new Claim.UsedForAnotherRequest();
                if (found.Answer is { } answer) return new Claim.Finished(answer);
            }
            // Still pending, or released between the two statements (its request failed): try to reserve again shortly.
            if (Stopwatch.GetElapsedTime(waitingSince) >= timings.InProgressWait) return new Claim.StillInProgress();
            if (row is not null) await Task.Delay(PollInterval, ct);
        }
    }

    /// <summary>
    /// Inserts a pending row, or takes over one that has expired, or one left pending by the same request whose API
    /// process went away. False when the key is held (or done) by a live row.
    /// </summary>
    private async Task<bool> TryReserveAsync(Guid organizationId, string key, byte[] requestHash, Guid token, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        await using var cmd = dataSource.CreateCommand("""
            INSERT INTO api.idempotency_keys AS k (organization_id, key, request_hash, reservation, state, created_at)
            VALUES ($1, $2, $3, $4, 'pending', $5)
            ON CONFLICT (organization_id, key) DO UPDATE
                SET request_hash = EXCLUDED.request_hash, reservation = EXCLUDED.reservation, state = 'pending',
                    created_at = EXCLUDED.created_at, status_code = NULL, content_type = NULL, body = NULL
                WHERE k.created_at < $6
                   OR (k.state = 'pending' AND k.created_at < $7 AND k.request_hash = EXCLUDED.request_hash)
            RETURNING k.reservation
            """);
        cmd.Parameters.Add(new() { Value = organizationId });
        cmd.Parameters.Add(new() { Value = key });
        cmd.Parameters.Add(new() { Value = requestHash });
        cmd.Parameters.Add(new() { Value = token });
        cmd.Parameters.Add(new() { Value = now });
        cmd.Parameters.Add(new() { Value = now - timings.Retention });
        cmd.Parameters.Add(new() { Value = now - timings.AbandonedAfter });
        return await cmd.ExecuteScalarAsync(ct) is Guid held && held == token;
    }

    private async Task<(byte[] RequestHash, StoredAnswer? Answer)?> ReadAsync(Guid organizationId, string key, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT request_hash, state, status_code, content_type, body FROM api.idempotency_keys
            WHERE organization_id = $1 AND key = $2 AND created_at >= $3
            """);
        cmd.Parameters.Add(new() { Value = organizationId });
        cmd.Parameters.Add(new() { Value = key });
        cmd.Parameters.Add(new() { Value = clock.GetUtcNow() - timings.Retention });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        var hash = r.GetFieldValue<byte[]>(0);
        if (r.GetString(1) != "done") return (hash, null);
        return (hash, new StoredAnswer(r.GetInt32(2), r.IsDBNull(3) ? null : r.GetString(3), r.GetFieldValue<byte[]>(4)));
    }

    /// <summary>
    /// Stores the answer of the request holding the key, in <paramref name="tx"/> when given. False when the request no
    /// longer holds it (taken over as abandoned), in which case nothing is written.
    /// </summary>
    public async Task<bool> CompleteAsync(IdempotencyReservation reservation, StoredAnswer answer, NpgsqlTransaction? tx, CancellationToken ct)
    {
        const string sql = """
            UPDATE api.idempotency_keys SET state = 'done', status_code = $4, content_type = $5, body = $6
            WHERE organization_id = $1 AND key = $2 AND reservation = $3 AND state = 'pending'
            """;
        await using var cmd = tx is null ? dataSource.CreateCommand(sql) : new NpgsqlCommand(sql, tx.Connection, tx);
        cmd.Parameters.Add(new() { Value = reservation.OrganizationId });
        cmd.Parameters.Add(new() { Value = reservation.Key });
        cmd.Parameters.Add(new() { Value = reservation.Token });
        cmd.Parameters.Add(new() { Value = answer.StatusCode });
        cmd.Parameters.Add(new() { Value = (object?)answer.ContentType ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = answer.Body });
        var stored = await cmd.ExecuteNonQueryAsync(ct) == 1;
        if (stored && tx is null) reservation.MarkCompleted();
        return stored;
    }

    /// <summary>Gives the key up (the request failed on our side): the next request with it runs afresh.</summary>
    public async Task ReleaseAsync(IdempotencyReservation reservation, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand(
            "DELETE FROM api.idempotency_keys WHERE organization_id = $1 AND key = $2 AND reservation = $3 AND state = 'pending'");
        cmd.Parameters.Add(new() { Value = reservation.OrganizationId });
        cmd.Parameters.Add(new() { Value = reservation.Key });
        cmd.Parameters.Add(new() { Value = reservation.Token });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Every <see cref="IdempotencyTimings.CleanupEvery"/> (per API process, on a reservation, so an idle API does no
    /// work) deletes a batch of expired rows. They are ignored and overwritten anyway; this only keeps the table small.
    /// </summary>
    private async Task CleanupIfDueAsync(CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        var due = Interlocked.Read(ref _nextCleanupTicks);
        if (now.UtcTicks < due || Interlocked.CompareExchange(ref _nextCleanupTicks, (now + timings.CleanupEvery).UtcTicks, due) != due) return;
        await using var cmd = dataSource.CreateCommand("""
            DELETE FROM api.idempotency_keys WHERE ctid IN (
                SELECT ctid FROM api.idempotency_keys WHERE created_at < $1 LIMIT $2)
            """);
        cmd.Parameters.Add(new() { Value = now - timings.Retention });
        cmd.Parameters.Add(new() { Value = CleanupBatch });
        var deleted = await cmd.ExecuteNonQueryAsync(ct);
        if (deleted > 0) logger.LogInformation("Deleted {Count} expired Idempotency-Key rows", deleted);
    }
}
