using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace Boxes.EventStore;

/// <summary>
/// Handles a batch of events read from the whole log, in order. A projection writes inside
/// <paramref name="tx"/>, the transaction that also moves the checkpoint, so the two commit together;
/// the relay publishes to the bus before that transaction commits, so a crash in between means the
/// batch is published again (a duplicate), never lost.
/// </summary>
public interface ILogHandler
{
    Task HandleAsync(IReadOnlyList<RecordedEvent> events, NpgsqlTransaction tx, CancellationToken ct);
}

/// <summary>
/// Reads the whole log from a named checkpoint and feeds it to a handler, for ever. Only one reader per
/// name runs at a time across all processes (a session-level advisory lock; not a long transaction,
/// which would hold back pg_snapshot_xmin for every other reader).
/// </summary>
public class LogSubscription(
    string name, NpgsqlDataSource dataSource, ILogHandler handler, ILogger logger, int batchSize = 256) : BackgroundService
{
    public string Name => name;

    /// <summary>How long to sleep between polls when no notification arrives (a safety net only).</summary>
    public TimeSpan IdlePoll { get; init; } = TimeSpan.FromSeconds(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Log subscription {Subscription} failed; restarting from its checkpoint", name);
                try { await Task.Delay(TimeSpan.FromMilliseconds(500), stoppingToken); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    /// <summary>Runs until cancelled (then throws OperationCanceledException) or until the handler throws (the caller restarts it from the checkpoint).</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        var notified = 0;
        conn.Notification += (_, _) => Interlocked.Exchange(ref notified, 1);

        await WaitForLeadershipAsync(conn, ct);
        try
        {
            await ReadForeverAsync(conn, () => Interlocked.Exchange(ref notified, 0) == 1, ct);
        }
        finally
        {
            // Session-level state outlives a pooled connection's return to the pool until Npgsql resets it on
            // reuse: release leadership and the LISTEN now, or a restarted reader on another physical
            // connection would stand by for ever behind our own idle session.
            // Proven by EventRelayTests.A_crash_between_publish_and_checkpoint_republishes_and_loses_nothing.
            if (conn.State == System.Data.ConnectionState.Open)
            {
                try
                {
                    await using var release = new NpgsqlCommand("UNLISTEN *; SELECT pg_advisory_unlock_all()", conn);
                    await release.ExecuteNonQueryAsync(CancellationToken.None);
                }
                catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
                {
                    // A broken connection is closed, not pooled: the server drops its locks with the session.
                }
            }
        }
    }

    private async Task ReadForeverAsync(NpgsqlConnection conn, Func<bool> takeNotified, CancellationToken ct)
    {
        await using (var listen = new NpgsqlCommand($"LISTEN {EventStore.NotificationChannel}", conn))
            await listen.ExecuteNonQueryAsync(ct);

        var checkpoint = await LoadCheckpointAsync(conn, ct);
        logger.LogInformation("Log subscription {Subscription} reading after {Checkpoint}", name, checkpoint);
        var heldBackPolls = 0;
        while (true)
        {
            // Cancellation always ends the run with OperationCanceledException, wherever in the loop it lands.
            ct.ThrowIfCancellationRequested();
            takeNotified();
            var batch = await EventStore.ReadAllAsync(conn, checkpoint, batchSize, ct);
            if (batch.Count > 0)
            {
                heldBackPolls = 0;
                await using var tx = await conn.BeginTransactionAsync(ct);
                await handler.HandleAsync(batch, tx, ct);
                checkpoint = batch[^1].Position;
                await SaveCheckpointAsync(conn, tx, checkpoint, ct);
                await tx.CommitAsync(ct);
                continue;
            }
            if (takeNotified()) continue;
            // Committed events can be held back while an older transaction is still open; they become
            // readable the moment it ends, which sends no notification, so look again shortly.
            if (await EventStore.HasHeldBackEventsAsync(conn, checkpoint, ct))
            {
                var delay = Math.Min(2 << Math.Min(heldBackPolls++, 5), 50);
                await Task.Delay(delay, ct);
                continue;
            }
            heldBackPolls = 0;
            await conn.WaitAsync(IdlePoll, ct);
        }
    }

    private async Task WaitForLeadershipAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        var logged = false;
        while (true)
        {
            await using var cmd = new NpgsqlCommand("SELECT pg_try_advisory_lock(hashtextextended($1, 11))", conn);
            cmd.Parameters.Add(new() { Value = "log-subscription:" + name });
            if ((bool)(await cmd.ExecuteScalarAsync(ct))!) return;
            if (!logged) logger.LogInformation("Log subscription {Subscription} runs elsewhere; standing by", name);
            logged = true;
            await Task.Delay(TimeSpan.FromSeconds(2), ct);
        }
    }

    private async Task<LogPosition> LoadCheckpointAsync(NpgsqlConnection conn, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(
            "SELECT transaction_id::text, global_position FROM event_store.checkpoints WHERE name = $1", conn);
        cmd.Parameters.Add(new() { Value = name });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct)
            ? new LogPosition(ulong.Parse(r.GetString(0), System.Globalization.CultureInfo.InvariantCulture), r.GetInt64(1))
            : LogPosition.Start;
    }

    private async Task SaveCheckpointAsync(NpgsqlConnection conn, NpgsqlTransaction tx, LogPosition position, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            INSERT INTO event_store.checkpoints (name, transaction_id, global_position) VALUES ($1, $2::text::xid8, $3)
            ON CONFLICT (name) DO UPDATE SET transaction_id = excluded.transaction_id,
                global_position = excluded.global_position, updated_at = now()
            """, conn, tx);
        cmd.Parameters.Add(new() { Value = name });
        cmd.Parameters.Add(new() { Value = position.TransactionId.ToString(System.Globalization.CultureInfo.InvariantCulture) });
        cmd.Parameters.Add(new() { Value = position.GlobalPosition });
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
