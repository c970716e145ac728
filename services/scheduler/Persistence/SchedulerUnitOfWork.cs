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
public sealed class SchedulerUnitOfWork(NpgsqlConnection connection, NpgsqlTransaction transaction, EventStore.EventStore store, IScheduler quartz)
{
    public NpgsqlTransaction Transaction => transaction;

    public async Task<BoxState?> LoadForUpdateAsync(Guid boxId, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT current_state, version, organization_id, kind, spec::text, worker_id, endpoint, end_reason, created_at, timers
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
        };
    }

    /// <summary>Writes the saga row (insert for a new saga, versioned update otherwise), its events and its timers.</summary>
    public async Task SaveAsync(BoxState saga, bool isNew, CancellationToken ct)
    {
        foreach (var (timer, dueAt) in saga.PendingTimers)
        {
            var key = BoxTimerJob.KeyFor(timer, saga.CorrelationId);
            if (dueAt is null)
            {
                if (saga.ScheduledTimers.Remove(timer)) await quartz.DeleteJob(key, ct);
                continue;
            }
            saga.ScheduledTimers.Add(timer);
            var job = JobBuilder.Create<BoxTimerJob>()
                .WithIdentity(key)
                .UsingJobData(BoxTimerJob.BoxIdKey, saga.CorrelationId.ToString())
                .UsingJobData(BoxTimerJob.TimerKey, timer)
                .Build();
            var trigger = TriggerBuilder.Create()
                .WithIdentity(key.Name, key.Group)
                .StartAt(dueAt.Value)
                .Build();
            await quartz.ScheduleJob(job, [trigger], ScheduleJobOptions.Replacing, ct);
        }
        var sql = isNew
            ? """
              INSERT INTO scheduler.box_sagas (correlation_id, current_state, version, organization_id, kind, spec, slots, dedicated,
                                               worker_id, endpoint, end_reason, created_at, updated_at, timers)
              VALUES ($1, $2, 1, $3, $4, $5, $6, $7, $8, $9, $10, $11, now(), $13)
              """
            // Optimistic concurrency: 0 rows means someone else moved this saga since we read it.
            : """
              UPDATE scheduler.box_sagas SET current_state = $2, version = version + 1, worker_id = $8, endpoint = $9,
                                             end_reason = $10, updated_at = now(), timers = $13
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

        saga.PendingEvents.Clear();
        saga.PendingTimers.Clear();
    }

    /// <summary>
    /// Picks a worker for the box. Locks the live workers' rows so that two boxes placed at the same
    /// moment cannot both take a worker's last free slot.
    /// </summary>
    public async Task<string?> ChooseWorkerAsync(BoxState box, TimeSpan lostAfter, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("""
            SELECT w.worker_id, w.region, w.kinds, w.capacity,
                   COALESCE(sum(s.slots), 0)::int AS used, count(s.correlation_id)::int AS boxes,
                   COALESCE(bool_or(s.dedicated), false) AS has_dedicated
            FROM scheduler.workers w
            LEFT JOIN scheduler.box_sagas s
                   ON s.worker_id = w.worker_id AND s.current_state IN ('Starting', 'Ready', 'Ending')
            WHERE w.lost_at IS NULL AND w.last_seen > now() - $1::interval
              AND w.worker_id IN (SELECT worker_id FROM scheduler.workers WHERE lost_at IS NULL FOR UPDATE)
            GROUP BY w.worker_id
            """, connection, transaction);
        cmd.Parameters.Add(new() { Value = lostAfter });
        var workers = new List<WorkerLoad>();
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct))
                workers.Add(new WorkerLoad(r.GetString(0), r.GetString(1), r.GetFieldValue<string[]>(2), r.GetInt32(3), r.GetInt32(4), r.GetInt32(5), r.GetBoolean(6)));
        }
        return PlacementPolicy.Choose(workers, box.Kind, box.Spec)?.WorkerId;
    }
}
