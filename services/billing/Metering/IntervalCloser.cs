using Boxes.Contracts;
using Microsoft.Extensions.Options;
using Npgsql;

namespace Boxes.Billing.Metering;

/// <summary>
/// Meters boxes as they run: every <see cref="BillingOptions.CloseEvery"/> it takes the running boxes whose next piece
/// is due, recomputes each from its stream and writes the pieces that are over. So usage records are current to about a
/// piece, and whatever crashes (a worker, this process) loses at most the piece in progress, which is written later from
/// the stream anyway.
/// </summary>
public sealed class IntervalCloser(
    BoxMeter meter, EventStore.EventStore store, NpgsqlDataSource dataSource, IOptions<BillingOptions> options,
    TimeProvider clock, ILogger<IntervalCloser> logger) : BackgroundService
{
    /// <summary>The most boxes one pass looks at (the rest wait for the next pass, a few seconds later).</summary>
    public const int MaxBoxesPerPass = 1000;

    private const int StreamsPerRead = 100;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        // Real time, not the TimeProvider: the pass runs every few seconds of the machine's time, while "now" inside it
        // is the TimeProvider's (which tests move).
        using var timer = new PeriodicTimer(options.Value.CloseEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await CloseDueAsync(stoppingToken);
                }
                catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                {
                    logger.LogWarning(ex, "Writing the due usage records of running boxes failed; the next pass tries again");
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One pass: writes the due pieces of every running box. Returns how many records were new (0 when another process holds the pass).</summary>
    public async Task<int> CloseDueAsync(CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        // One pass at a time across every billing process: a session advisory lock (not a transaction, which would hold
        // back the feed's read horizon for its whole length). Two passes at once would still be harmless (records are
        // idempotent by id, rows are locked per box), only wasted work.
        // Proven by RunningBoxTests.Two_billing_processes_closing_at_once_write_each_piece_once.
        await using (var take = new NpgsqlCommand("SELECT pg_try_advisory_lock(hashtextextended('billing-closer', 0))", conn))
            if (!(bool)(await take.ExecuteScalarAsync(ct))!) return 0;
        try
        {
            var now = clock.GetUtcNow();
            var due = new List<Guid>();
            await using (var cmd = new NpgsqlCommand(
                "SELECT box_id FROM billing.boxes WHERE running AND next_due_at <= $1 ORDER BY next_due_at LIMIT $2", conn))
            {
                cmd.Parameters.Add(new() { Value = now });
                cmd.Parameters.Add(new() { Value = MaxBoxesPerPass });
                await using var r = await cmd.ExecuteReaderAsync(ct);
                while (await r.ReadAsync(ct)) due.Add(r.GetGuid(0));
            }

            var written = 0;
            foreach (var chunk in due.Chunk(StreamsPerRead))
            {
                // "Now" before the streams are read, as in BoxMeter.MeterAsync.
                now = clock.GetUtcNow();
                var streams = await store.ReadStreamsAsync(chunk.Select(Streams.ForBox).ToList(), ct);
                foreach (var boxId in chunk)
                    if (streams.TryGetValue(Streams.ForBox(boxId), out var stream))
                        written += await meter.ApplyAsync(boxId, stream, now, ct);
            }
            if (written > 0)
                logger.LogDebug("The closer wrote {Count} usage record(s) for {Boxes} running box(es)", written, due.Count);
            return written;
        }
        finally
        {
            await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(hashtextextended('billing-closer', 0))", conn);
            await release.ExecuteNonQueryAsync(CancellationToken.None);
        }
    }
}
