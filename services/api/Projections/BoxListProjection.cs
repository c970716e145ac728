using System.Text.Json;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Npgsql;
using NpgsqlTypes;

namespace Boxes.Api.Projections;

/// <summary>
/// Folds box events into api.boxes for listing. Runs inside the subscription's transaction, so the rows
/// and the checkpoint move together; events at or below a row's version were already applied and are skipped.
/// </summary>
public sealed class BoxListProjection : ILogHandler
{
    public const string Name = "api-boxes";

    public async Task HandleAsync(IReadOnlyList<RecordedEvent> events, NpgsqlTransaction tx, CancellationToken ct)
    {
        foreach (var recorded in events)
        {
            if (!recorded.StreamId.StartsWith("box-", StringComparison.Ordinal)) continue;
            var @event = StoredEvents.Deserialize(recorded);
            var boxId = @event switch { BoxRequested r => r.BoxId, _ => Guid.ParseExact(recorded.StreamId[4..], "N") };

            BoxView? view = null;
            await using (var read = new NpgsqlCommand("SELECT view::text FROM api.boxes WHERE box_id = $1 FOR UPDATE", tx.Connection, tx))
            {
                read.Parameters.Add(new() { Value = boxId });
                if (await read.ExecuteScalarAsync(ct) is string json) view = JsonSerializer.Deserialize<BoxView>(json, BoxesJson.Options);
            }
            if (view is not null && recorded.Version <= view.Version) continue;
            var next = BoxView.Apply(view, @event);
            if (next is null) continue;
            next = next with { Version = recorded.Version };

            await using var write = new NpgsqlCommand("""
                INSERT INTO api.boxes (box_id, organization_id, kind, status, created_at, version, view) VALUES ($1, $2, $3, $4, $5, $6, $7)
                ON CONFLICT (box_id) DO UPDATE SET status = excluded.status, version = excluded.version, view = excluded.view
                """, tx.Connection, tx);
            write.Parameters.Add(new() { Value = boxId });
            write.Parameters.Add(new() { Value = next.OrganizationId });
            write.Parameters.Add(new() { Value = next.Kind });
            write.Parameters.Add(new() { Value = next.Status });
            write.Parameters.Add(new() { Value = next.CreatedAt });
            write.Parameters.Add(new() { Value = next.Version });
            write.Parameters.Add(new() { Value = JsonSerializer.Serialize(next, BoxesJson.Options), NpgsqlDbType = NpgsqlDbType.Jsonb });
            await write.ExecuteNonQueryAsync(ct);
        }
    }
}
