using Boxes.Contracts;
using Boxes.Scheduler.StateMachines;
using Boxes.ServiceDefaults;
using MassTransit;
using Microsoft.Extensions.Options;
using Npgsql;
using Quartz;

namespace Boxes.Scheduler.Timers;

/// <summary>
/// The box deadlines, as one recurring Quartz job (clustered: one scheduler runs it at a time) instead of one
/// Quartz job per box and timer: the ready timeout (a box still scheduling or starting ReadyTimeout after it was
/// requested), the max duration (a ready box past its expires_at), and the stop timeout (a box ending for longer
/// than StopTimeout). A per-box job costs two Quartz operations (a dozen statements under Quartz's global lock,
/// and a wake-up of its trigger thread) to schedule and cancel, and that sat on the path from create to ready for
/// every box; the sweep costs three indexed queries a second. A deadline fires at most one sweep interval late,
/// never early; the deadlines live in the saga rows, so a scheduler restart keeps them.
/// </summary>
[DisallowConcurrentExecution]
public sealed class BoxDeadlineSweepJob(NpgsqlDataSource dataSource, IBus bus, IOptions<SchedulerOptions> options) : IJob
{
    public static readonly JobKey Key = new("box-deadline-sweep", "scheduler");

    public async ValueTask Execute(IJobExecutionContext context, CancellationToken cancellationToken)
    {
        var o = options.Value;
        await using var conn = await dataSource.OpenConnectionAsync(cancellationToken);
        foreach (var boxId in await Due(conn, """
            SELECT correlation_id FROM scheduler.box_sagas
            WHERE current_state IN ('Scheduling', 'Starting') AND created_at <= now() - $1::interval
            """, o.ReadyTimeout, cancellationToken))
            await Fire(new BoxReadyTimeoutElapsed(boxId, DateTimeOffset.UtcNow), boxId, BoxTimers.ReadyTimeout, cancellationToken);

        foreach (var boxId in await Due(conn, """
            SELECT correlation_id FROM scheduler.box_sagas WHERE current_state = 'Ready' AND expires_at <= now()
            """, null, cancellationToken))
            await Fire(new BoxMaxDurationElapsed(boxId, DateTimeOffset.UtcNow), boxId, BoxTimers.MaxDuration, cancellationToken);

        foreach (var boxId in await Due(conn, """
            SELECT correlation_id FROM scheduler.box_sagas WHERE current_state = 'Ending' AND ending_since <= now() - $1::interval
            """, o.StopTimeout, cancellationToken))
            await Fire(new BoxStopTimeoutElapsed(boxId, DateTimeOffset.UtcNow), boxId, BoxTimers.StopTimeout, cancellationToken);
    }

    private static async Task<List<Guid>> Due(NpgsqlConnection conn, string sql, TimeSpan? after, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        if (after is { } interval) cmd.Parameters.Add(new() { Value = interval });
        var due = new List<Guid>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) due.Add(r.GetGuid(0));
        return due;
    }

    /// <summary>
    /// One message id per box and deadline: a sweep repeated before the saga moved on yields the same id, and the
    /// saga derives the same event ids from it (a duplicate, ignored), never a second transition.
    /// </summary>
    private Task Fire<T>(T message, Guid boxId, string deadline, CancellationToken ct) where T : class =>
        bus.Publish(message, ctx => ctx.MessageId = StoredEvents.DeriveId(boxId, deadline), ct);
}
