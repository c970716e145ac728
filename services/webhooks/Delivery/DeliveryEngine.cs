using Microsoft.Extensions.Options;

namespace Boxes.Webhooks.Delivery;

/// <summary>
/// The delivery loop: claims due deliveries (at most <c>MaxConcurrentDeliveries</c> in flight in this process, at most
/// <c>MaxInFlightPerEndpoint</c> per endpoint across processes), sends each concurrently, records the attempt and
/// schedules the next. The schedule lives in the database (next_attempt_at), so a restarted service keeps it.
/// Between claims it sleeps until the next delivery is due, a notification arrives, one of its sends finishes, or
/// <c>PollInterval</c> passes.
/// </summary>
public sealed class DeliveryEngine(
    DeliveryStore store, WebhookSender sender, DeliverySignal signal, TimeProvider clock,
    IOptions<WebhooksOptions> options, ILogger<DeliveryEngine> logger) : BackgroundService
{
    /// <summary>Claims that came back empty although something looked due (another process holds it) wait this long before looking again.</summary>
    private static readonly TimeSpan Backoff = TimeSpan.FromMilliseconds(25);

    private readonly Dictionary<Guid, Task> _running = [];
    private readonly Lock _gate = new();

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var o = options.Value;
        var retries = new RetryPolicy(o.RetryDelays, o.Jitter);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                TimeSpan wait;
                try
                {
                    wait = await RunOnceAsync(o, retries, stoppingToken);
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception ex)
                {
                    logger.LogError(ex, "The webhook delivery loop failed; trying again shortly");
                    wait = TimeSpan.FromSeconds(1);
                }
                if (wait > TimeSpan.Zero) await signal.WaitAsync(wait, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            // Sends in flight see the same token: they stop, give their deliveries back, and are awaited here.
            Task[] running;
            lock (_gate) running = [.. _running.Values];
            await Task.WhenAll(running);
        }
    }

    /// <summary>One claim round; returns how long to sleep before the next.</summary>
    private async Task<TimeSpan> RunOnceAsync(WebhooksOptions o, RetryPolicy retries, CancellationToken stoppingToken)
    {
        int free;
        lock (_gate) free = o.MaxConcurrentDeliveries - _running.Count;
        // Every slot is taken: a finishing send signals, and the poll interval is the safety net.
        if (free <= 0) return o.PollInterval;

        var now = clock.GetUtcNow();
        var claimed = await store.ClaimAsync(now, free, o.MaxInFlightPerEndpoint, o.Lease, stoppingToken);
        foreach (var delivery in claimed)
        {
            var task = DeliverAsync(delivery, retries, o, stoppingToken);
            lock (_gate) _running[delivery.Id] = task;
            _ = task.ContinueWith(_ =>
            {
                lock (_gate) _running.Remove(delivery.Id);
                signal.Set();
            }, TaskScheduler.Default);
        }
        if (claimed.Count == free) return TimeSpan.Zero;

        now = clock.GetUtcNow();
        var next = await store.NextDueAsync(now, o.MaxInFlightPerEndpoint, stoppingToken);
        var wait = next is { } due ? due - now : o.PollInterval;
        if (wait > o.PollInterval) wait = o.PollInterval;
        // Due but not claimable (another process holds it right now): look again soon rather than spin.
        if (wait <= TimeSpan.Zero) wait = claimed.Count > 0 ? TimeSpan.Zero : Backoff;
        return wait;
    }

    private async Task DeliverAsync(ClaimedDelivery delivery, RetryPolicy retries, WebhooksOptions o, CancellationToken stoppingToken)
    {
        // Off the loop's own continuation: the loop goes on claiming while this one sends.
        await Task.Yield();
        try
        {
            AttemptOutcome outcome;
            try
            {
                outcome = await sender.SendAsync(delivery, stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                // Cut short by shutdown, not by the endpoint: no attempt to record; another process may take it now.
                await store.ReleaseAsync(delivery, CancellationToken.None);
                return;
            }
            var now = clock.GetUtcNow();
            var result = await store.RecordAsync(delivery, outcome,
                () => retries.NextAttempt(delivery.AttemptInSequence, now, outcome.RetryAfter), now, o.DisableAfter, CancellationToken.None);
            if (!result.Recorded)
            {
                logger.LogWarning("Attempt {Attempt} of webhook delivery {DeliveryId} finished after its lease ran out; another process has it, so this attempt is not recorded",
                    delivery.Attempt, delivery.Id);
                return;
            }
            if (result.DisabledReason is not null)
                logger.LogWarning("Webhook endpoint {EndpointId} disabled: {Reason}", delivery.EndpointId, result.DisabledReason);
            if (outcome.Succeeded)
                logger.LogInformation("Webhook delivery {DeliveryId} ({Type}) to endpoint {EndpointId} succeeded on attempt {Attempt} with {StatusCode} in {DurationMs} ms",
                    delivery.Id, delivery.Type, delivery.EndpointId, delivery.Attempt, outcome.StatusCode, outcome.DurationMs);
            else
                logger.LogInformation("Webhook delivery {DeliveryId} ({Type}) to endpoint {EndpointId} failed attempt {Attempt}: {Error}; {Status}, next attempt {NextAttemptAt}",
                    delivery.Id, delivery.Type, delivery.EndpointId, delivery.Attempt, outcome.Error, result.Status, result.NextAttemptAt);
        }
        catch (Exception ex)
        {
            // Recording failed (the database went away): the lease runs out and the delivery is tried again.
            logger.LogError(ex, "Webhook delivery {DeliveryId} attempt {Attempt} could not be recorded; it is retried when its lease ends", delivery.Id, delivery.Attempt);
        }
    }
}
