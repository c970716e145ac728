using System.Diagnostics;
using Boxes.Contracts;
using Npgsql;

namespace Boxes.Api.Lifecycle;

/// <summary>
/// Wakes requests waiting on a box (an exec sent right after create waits for ready) when anything is appended
/// to the event store. One LISTEN on <see cref="EventStore.EventStore.NotificationChannel"/> per API instance
/// serves every waiter: each wake-up costs a waiter one indexed read of the events after the version it knows,
/// instead of every waiter polling the database on a timer.
/// </summary>
public sealed class BoxChangeNotifier(NpgsqlDataSource dataSource, ILogger<BoxChangeNotifier> logger) : BackgroundService
{
    /// <summary>
    /// How long a waiter sleeps without a notification before it looks anyway: only a safety net for a LISTEN
    /// connection that broke and is being re-established (notifications sent meanwhile are lost).
    /// </summary>
    public static readonly TimeSpan SafetyNet = TimeSpan.FromSeconds(2);

    private TaskCompletionSource _next = NewPulse();
    private int _waiters;

    /// <summary>How many requests are waiting on a box right now (for tests and diagnostics).</summary>
    public int Waiters => Volatile.Read(ref _waiters);

    /// <summary>Completes at the next append anywhere in the store (or when the listener reconnected).</summary>
    public Task NextAppend => Volatile.Read(ref _next).Task;

    /// <summary>
    /// Re-reads <paramref name="view"/> at every append until <paramref name="waiting"/> is false or
    /// <paramref name="timeout"/> passed, and returns the box as it is then.
    /// </summary>
    public async Task<BoxView> WaitWhileAsync(BoxView view, Func<BoxView, bool> waiting, Func<BoxView, CancellationToken, Task<BoxView>> refresh,
        TimeSpan timeout, CancellationToken ct)
    {
        if (!waiting(view)) return view;
        var elapsed = Stopwatch.StartNew();
        Interlocked.Increment(ref _waiters);
        try
        {
            while (true)
            {
                // Take the pulse BEFORE reading: an append that lands between the read and the wait still wakes us.
                var appended = NextAppend;
                view = await refresh(view, ct);
                var remaining = timeout - elapsed.Elapsed;
                if (!waiting(view) || remaining <= TimeSpan.Zero) return view;
                try
                {
                    await appended.WaitAsync(remaining < SafetyNet ? remaining : SafetyNet, ct);
                }
                catch (TimeoutException)
                {
                    // Look once more (the safety net), then give up if the deadline passed.
                }
            }
        }
        finally
        {
            Interlocked.Decrement(ref _waiters);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await ListenAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                logger.LogWarning(ex, "Listening for event store appends failed; waiters fall back to their safety-net reads until it is back");
                try { await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken); }
                catch (OperationCanceledException) { return; }
            }
        }
    }

    private async Task ListenAsync(CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        conn.Notification += (_, _) => Pulse();
        try
        {
            await using (var listen = new NpgsqlCommand($"LISTEN {EventStore.EventStore.NotificationChannel}", conn))
                await listen.ExecuteNonQueryAsync(ct);
            // Appends made while we were not listening sent notifications nobody heard: let every waiter look.
            Pulse();
            while (true) await conn.WaitAsync(ct);
        }
        finally
        {
            // LISTEN is session state that would outlive this connection's return to the pool.
            if (conn.State == System.Data.ConnectionState.Open)
            {
                try
                {
                    await using var unlisten = new NpgsqlCommand("UNLISTEN *", conn);
                    await unlisten.ExecuteNonQueryAsync(CancellationToken.None);
                }
                catch (Exception ex) when (ex is NpgsqlException or InvalidOperationException)
                {
                    // A broken connection is closed, not pooled.
                }
            }
        }
    }

    private void Pulse() => Interlocked.Exchange(ref _next, NewPulse()).TrySetResult();

    private static TaskCompletionSource NewPulse() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}
