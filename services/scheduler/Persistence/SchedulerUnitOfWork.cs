using System.Text.Json;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.Scheduler.Placement;
using Boxes.Scheduler.StateMachines;
using Boxes.Scheduler.Timers;
using Boxes.ServiceDefaults;
using Npgsql;
using NpgsqlTypes;
using Quartz;

namespace Boxes.Scheduler.Persistence;

/// <summary>
/// The one transaction a saga message is handled in: the saga row, the box's stored events and its
/// timers commit together or not at all. Available to state machine activities as a payload.
/// </summary>
public sealed class SchedulerUnitOfWork(
    NpgsqlConnection connection, NpgsqlTransaction transaction, EventStore.EventStore store, IScheduler quartz, ILogger logger)
{
    public NpgsqlTransaction Transaction => transaction;

    public async Task<BoxState?> LoadForUpdateAsync(Guid boxId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT current_state, version, organization_id, kind, spec::text, worker_id, endpoint, end_reason, created_at, timers,
                   expires_at, ending_since
            FROM scheduler.box_sagas WHERE correlation_id = $1 FOR UPDATE
            """, connection, transaction);
        cmd.Parameters.Add(new() { Value = boxId });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        if (!await r.ReadAsync(ct)) return null;
        return new BoxState
        {
            CorrelationId = boxId,
            CurrentState = r.GetString(0),
            Version = r.GetInt32(1),
            OrganizationId = r.GetGuid(2),
            Kind = r.GetString(3),
            Spec = JsonSerializer.Deserialize<BoxSpec>(r.GetString(4), BoxesJson.Options)!,
            WorkerId = r.IsDBNull(5) ? null : r.GetString(5),
            Endpoint = r.IsDBNull(6) ? null : r.GetString(6),
            EndReason = r.IsDBNull(7) ? null : r.GetString(7),
            CreatedAt = r.GetFieldValue<DateTimeOffset>(8),
            ScheduledTimers = new HashSet<string>(r.GetFieldValue<string[]>(9), StringComparer.Ordinal),
            ExpiresAt = r.IsDBNull(10) ? null : r.GetFieldValue<DateTimeOffset>(10),
            EndingSince = r.IsDBNull(11) ? null : r.GetFieldValue<DateTimeOffset>(11),
        }.MarkLoaded();
    }

    /// <summary>
    /// Writes the saga row (insert for a new saga, versioned update otherwise), then its events, then its
    /// timers. Quartz comes last on purpose: every Quartz operation takes the job store's TRIGGER_ACCESS
    /// row lock, which is shared by all boxes and by Quartz's own trigger acquisition, and is held until
    /// this transaction commits; taking it last keeps that hold to the timer calls and the commit.
    /// </summary>
    public async Task SaveAsync(BoxState saga, bool isNew, CancellationToken ct)
    {
        // A message the state machine ignored (a duplicate, a late timer) changes nothing: write nothing.
        if (!isNew && saga.IsUnchangedSinceLoad)
        {
            saga.ClearEffects();
            return;
        }

        // Decide the timer set first (it is part of the row), touch Quartz at the end.
        var timerOps = new List<(string Timer, DateTimeOffset? DueAt)>();
        foreach (var (timer, dueAt) in saga.PendingTimers)
        {
            if (dueAt is not null) saga.ScheduledTimers.Add(timer);
            // Cancelling a timer that was never set (or already fired and was noted as such) needs no Quartz call.
            else if (!saga.ScheduledTimers.Remove(timer)) continue;
            timerOps.Add((timer, dueAt));
        }

        var sql = isNew
            ? """
              INSERT INTO scheduler.box_sagas (correlation_id, current_state, version, organization_id, kind, spec, slots, dedicated,
                                               worker_id, endpoint, end_reason, created_at, updated_at, timers, expires_at, ending_since)
              VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), $13, $14, $15)
              """
            // Optimistic concurrency: 0 rows means someone else moved this saga since we read it. (The stream
            // lock and FOR UPDATE already serialise handlers of one box; this is the backstop that turns a
            // lost update into a retried message instead of silent corruption.)
            : """
              UPDATE scheduler.box_sagas SET current_state = $2, version = version + 1, worker_id = $8, endpoint = $9,
                                             end_reason = $10, updated_at = now(), timers = $13, expires_at = $14, ending_since = $15
              WHERE correlation_id = $1 AND version = $12
              """;
        await using (var cmd = new NpgsqlCommand(sql, connection, transaction))
        {
            cmd.Parameters.Add(new() { Value = saga.CorrelationId });
            cmd.Parameters.Add(new() { Value = saga.CurrentState });
            cmd.Parameters.Add(new() { Value = saga.OrganizationId });
            cmd.Parameters.Add(new() { Value = saga.Kind });
            cmd.Parameters.Add(new() { Value = JsonSerializer.Serialize(saga.Spec, BoxesJson.Options), NpgsqlDbType = NpgsqlDbType.Jsonb });
            cmd.Parameters.Add(new() { Value = PlacementPolicy.SlotsFor(saga.Kind, saga.Spec) });
            cmd.Parameters.Add(new() { Value = PlacementPolicy.IsDedicated(saga.Spec) });
            cmd.Parameters.Add(new() { Value = (object?)saga.WorkerId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = (object?)saga.Endpoint ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = (object?)saga.EndReason ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = saga.CreatedAt });
            cmd.Parameters.Add(new() { Value = saga.Version });
            cmd.Parameters.Add(new() { Value = saga.ScheduledTimers.Order(StringComparer.Ordinal).ToArray() });
            cmd.Parameters.Add(new() { Value = (object?)saga.ExpiresAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            cmd.Parameters.Add(new() { Value = (object?)saga.EndingSince ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
            if (await cmd.ExecuteNonQueryAsync(ct) != 1)
                throw new MassTransit.ConcurrencyException($"Box saga {saga.CorrelationId} changed since version {saga.Version} was read",
                    typeof(BoxState), saga.CorrelationId);
        }
        saga.Version = isNew ? 1 : saga.Version + 1;

        if (saga.PendingEvents.Count > 0)
        {
            // Ids derive from the message being handled: a redelivery appends the same ids, which the store ignores.
            var events = saga.PendingEvents
                .Select((e, i) => StoredEvents.ToEventData(e, StoredEvents.DeriveId(saga.CausationId, $"{i}:{e.GetType().Name}")))
                .ToList();
            await store.AppendAsync(transaction, Streams.ForBox(saga.CorrelationId), ExpectedVersion.Any, events, ct);
        }

        // Enlisted in this transaction (see BoxSagaRepositoryContextFactory): the timers commit with the row and events, or not at all.
        foreach (var (timer, dueAt) in timerOps)
        {
            var key = BoxTimerJob.KeyFor(timer, saga.CorrelationId);
            if (dueAt is null)
            {
                // UnscheduleJob, not DeleteJob: a timer firing right now completes and removes its own trigger
                // concurrently, and DeleteJob throws when the trigger it listed is gone by the time it removes it.
                // Unscheduling a missing trigger simply answers false; the job, not durable, goes with its last trigger.
                await quartz.UnscheduleJob(new TriggerKey(key.Name, key.Group), ct);
                continue;
            }
            var job = JobBuilder.Create<BoxTimerJob>()
                .WithIdentity(key)
                // A node that dies between firing a one-shot trigger and publishing would otherwise take the
                // timer with it; recovery re-runs the job on another node (a duplicate message is ignored by state).
                .RequestRecovery()
                .UsingJobData(BoxTimerJob.BoxIdKey, saga.CorrelationId.ToString())
                .UsingJobData(BoxTimerJob.TimerKey, timer)
                .Build();
            var trigger = TriggerBuilder.Create()
                .WithIdentity(key.Name, key.Group)
                .StartAt(dueAt.Value)
                .Build();
            await quartz.ScheduleJob(job, [trigger], ScheduleJobOptions.Replacing, ct);
        }

        saga.PendingEvents.Clear();
        saga.PendingTimers.Clear();
    }

    /// <summary>
    /// Picks a worker for the box, or null when none has room.
    /// </summary>
    /// <remarks>
    /// Two statements on purpose. The first locks every live worker's row (in worker_id order, so two
    /// placements cannot deadlock on each other): a second placement waits here until the first has
    /// committed its saga row. Only then does the second statement read the load, with a fresh READ
    /// COMMITTED snapshot that includes the first placement. Folding the lock into the counting query
    /// would not do: that query's snapshot is taken before it waits for the lock, so it would count
    /// without the box that just took the last slot. Proven by
    /// BoxLifecycleTests.Concurrent_requests_never_put_more_on_a_worker_than_its_capacity.
    /// </remarks>
    public async Task<string?> ChooseWorkerAsync(BoxState box, TimeSpan lostAfter, CancellationToken ct)
    {
        await using (var lockWorkers = new NpgsqlCommand(
            "SELECT worker_id FROM scheduler.workers WHERE lost_at IS NULL ORDER BY worker_id FOR UPDATE", connection, transaction))
        {
            await lockWorkers.ExecuteNonQueryAsync(ct);
        }

        await using var cmd = new NpgsqlCommand("""
            SELECT w.worker_id, w.region, w.kinds, w.capacity,
                   COALESCE(sum(s.slots), 0)::int AS used, count(s.correlation_id)::int AS boxes,
                   COALESCE(bool_or(s.dedicated), false) AS has_dedicated
            FROM scheduler.workers w
            LEFT JOIN scheduler.box_sagas s
                   ON s.worker_id = w.worker_id AND s.current_state IN ('Starting', 'Ready', 'Ending')
            WHERE w.lost_at IS NULL AND w.last_seen > now() - $1::interval
            GROUP BY w.worker_id
            """, connection, transaction);
        cmd.Parameters.Add(new() { Value = lostAfter });
        var workers = new List<WorkerLoad>();
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
                workers.Add(new WorkerLoad(r.GetString(0), r.GetString(1), r.GetFieldValue<string[]>(2), r.GetInt32(3), r.GetInt32(4), r.GetInt32(5), r.GetBoolean(6)));
        }
        var chosen = PlacementPolicy.Choose(workers, box.Kind, box.Spec);
        if (chosen is not null && box.Spec.Region is { Length: > 0 } region && !string.Equals(chosen.Region, region, StringComparison.OrdinalIgnoreCase))
            logger.LogWarning("No worker in region {Region} has room for box {BoxId}; placing it on {WorkerId} in {WorkerRegion}",
                region, box.CorrelationId, chosen.WorkerId, chosen.Region);
        return chosen?.WorkerId;
    }
}
