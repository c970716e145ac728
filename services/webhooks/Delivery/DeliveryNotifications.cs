using Npgsql;

namespace Boxes.Webhooks.Delivery;

/// <summary>
/// LISTENs on <see cref="DeliveryStore.NotificationChannel"/> and wakes the delivery loop when any webhooks process
/// inserts or replays a delivery, so that "immediately" means milliseconds rather than the next poll.
/// </summary>
public sealed class DeliveryNotifications(NpgsqlDataSource dataSource, DeliverySignal signal, ILogger<DeliveryNotifications> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await using var conn = await dataSource.OpenConnectionAsync(stoppingToken);
                conn.Notification += (_, _) => signal.Set();
                await using (var listen = new NpgsqlCommand($"LISTEN {DeliveryStore.NotificationChannel}", conn))
                    await listen.ExecuteNonQueryAsync(stoppingToken);
                // Whatever was notified while we were not listening is found by this look.
                signal.Set();
                while (true) await conn.WaitAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or System.IO.IOException or InvalidOperationException)
            {
                logger.LogWarning(ex, "Listening for new webhook deliveries failed; the loop polls until listening again");
                try { await Task.Delay(TimeSpan.FromSeconds(1), stoppingToken); }
                catch (OperationCanceledException) { return; }
            }
        }
    }
}
