using System.Text.Json;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Npgsql;
using NpgsqlTypes;

namespace Boxes.Api.Lifecycle;

/// <summary>Creating, reading and closing boxes: appends to their streams, reads by folding them, lists from the projection.</summary>
public sealed class BoxCatalog(NpgsqlDataSource dataSource, EventStore.EventStore store, TimeProvider clock)
{
    public enum CreateOutcome { Created, OverConcurrencyLimit }

    /// <summary>
    /// Appends BoxRequested and the list row in one transaction. The organisation's advisory lock makes the
    /// concurrency check and the insert atomic, so 20 creates arriving at once cannot all squeeze under the limit.
    /// <paramref name="withinTransaction"/>, when given, runs last in that transaction with the new box (the request's
    /// Idempotency-Key answer is stored there, so the box and the answer a retry gets commit together); if it throws,
    /// no box is created.
    /// </summary>
    public async Task<(CreateOutcome Outcome, BoxView? View)> CreateAsync(Guid organizationId, string kind, BoxSpec spec, int concurrencyLimit, CancellationToken ct,
        Func<NpgsqlTransaction, BoxView, CancellationToken, Task>? withinTransaction = null)
    {
        var boxId = Guid.CreateVersion7();
        // PostgreSQL keeps microseconds: truncate so the list cursor compares exactly what was stored.
        var now = clock.GetUtcNow();
        var requested = new BoxRequested(boxId, organizationId, kind, spec, new DateTimeOffset(now.UtcTicks - now.UtcTicks % 10, TimeSpan.Zero));
        var view = BoxView.Apply(null, requested)!;
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await EventStore.EventStore.LockStreamAsync(tx, Streams.ForBox(boxId), ct);
        await using (var lockOrg = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1, 13))", conn, tx))
        {
            lockOrg.Parameters.Add(new() { Value = "org-boxes:" + organizationId });
            await lockOrg.ExecuteNonQueryAsync(ct);
        }
        await using (var count = new NpgsqlCommand("SELECT count(*) FROM api.boxes WHERE organization_id = $1 AND status NOT IN ('ended', 'failed')", conn, tx))
        {
            count.Parameters.Add(new() { Value = organizationId });
            if ((long)(await count.ExecuteScalarAsync(ct))! >= concurrencyLimit) return (CreateOutcome.OverConcurrencyLimit, null);
        }
        await store.AppendAsync(tx, Streams.ForBox(boxId), ExpectedVersion.NoStream, [StoredEvents.ToEventData(requested, Guid.NewGuid())], ct);
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO api.boxes (box_id, organization_id, kind, status, created_at, version, view) VALUES ($1, $2, $3, $4, $5, $6, $7)
            """, conn, tx))
        {
            insert.Parameters.Add(new() { Value = boxId });
            insert.Parameters.Add(new() { Value = organizationId });
            insert.Parameters.Add(new() { Value = kind });
            insert.Parameters.Add(new() { Value = view.Status });
            insert.Parameters.Add(new() { Value = view.CreatedAt });
            insert.Parameters.Add(new() { Value = view.Version });
            insert.Parameters.Add(new() { Value = JsonSerializer.Serialize(view, BoxesJson.Options), NpgsqlDbType = NpgsqlDbType.Jsonb });
            await insert.ExecuteNonQueryAsync(ct);
        }
        if (withinTransaction is not null) await withinTransaction(tx, view, ct);
        await tx.CommitAsync(ct);
        return (CreateOutcome.Created, view);
    }

    /// <summary>The box as its stream says now, or null when it does not exist or belongs to another organisation.</summary>
    public async Task<BoxView?> GetAsync(Guid organizationId, string kind, Guid boxId, CancellationToken ct)
    {
        var view = StoredEvents.FoldBox(await store.ReadStreamAsync(Streams.ForBox(boxId), ct: ct));
        return view is not null && view.OrganizationId == organizationId && view.Kind == kind ? view : null;
    }

    /// <summary>
    /// The caller's box of this kind by its id as the client spelled it; null for a malformed id too, which is
    /// as unknown as a foreign one (404 either way, revealing nothing).
    /// </summary>
    public Task<BoxView?> FindAsync(Auth.Caller caller, string kind, string id, CancellationToken ct) =>
        Guid.TryParse(id, out var boxId) ? GetAsync(caller.OrganizationId, kind, boxId, ct) : Task.FromResult<BoxView?>(null);

    /// <summary>Brings a view up to date by folding only the events appended after it (a cheap re-read while waiting on a box).</summary>
    public async Task<BoxView> RefreshAsync(BoxView view, CancellationToken ct)
    {
        var newer = await store.ReadStreamAsync(Streams.ForBox(view.Id), view.Version + 1, ct);
        foreach (var e in newer) view = BoxView.Apply(view, StoredEvents.Deserialize(e))! with { Version = e.Version };
        return view;
    }

    /// <summary>Asks to close the box; a no-op when it is already ending, ended or failed.</summary>
    public async Task<BoxView?> CloseAsync(Guid organizationId, string kind, Guid boxId, CancellationToken ct)
    {
        var view = await GetAsync(organizationId, kind, boxId, ct);
        if (view is null || view.Status is BoxStatuses.Ending or BoxStatuses.Ended or BoxStatuses.Failed) return view;
        try
        {
            await store.AppendAsync(Streams.ForBox(boxId), view.Version,
                [StoredEvents.ToEventData(new BoxStopRequested(boxId, clock.GetUtcNow()), Guid.NewGuid())], ct);
        }
        catch (WrongExpectedVersionException)
        {
            // The box moved on meanwhile (e.g. it just became ready): look again and ask once more if still needed.
            return await CloseAsync(organizationId, kind, boxId, ct);
        }
        return await GetAsync(organizationId, kind, boxId, ct);
    }

    public sealed record Page(IReadOnlyList<BoxView> Items, string? NextCursor);

    /// <summary>Newest first, from the list projection; the cursor is the last item's (createdAt, id).</summary>
    public async Task<Page> ListAsync(Guid organizationId, string kind, string? status, int limit, (DateTimeOffset CreatedAt, Guid Id)? after, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("""
            SELECT view::text FROM api.boxes
            WHERE organization_id = $1 AND kind = $2 AND ($3::text IS NULL OR status = $3)
              AND ($4::timestamptz IS NULL OR (created_at, box_id) < ($4, $5))
            ORDER BY created_at DESC, box_id DESC
            LIMIT $6
            """);
        cmd.Parameters.Add(new() { Value = organizationId });
        cmd.Parameters.Add(new() { Value = kind });
        cmd.Parameters.Add(new() { Value = (object?)status ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        cmd.Parameters.Add(new() { Value = after is { } a1 ? a1.CreatedAt : DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        cmd.Parameters.Add(new() { Value = after is { } a2 ? a2.Id : Guid.Empty });
        cmd.Parameters.Add(new() { Value = limit + 1 });
        var items = new List<BoxView>();
        await using (var r = await cmd.ExecuteReaderAsync(ct))
        {
            while (await r.ReadAsync(ct)) items.Add(JsonSerializer.Deserialize<BoxView>(r.GetString(0), BoxesJson.Options)!);
        }
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(items.Count - 1);
            var last = items[^1];
            next = Cursor.Encode(last.CreatedAt, last.Id);
        }
        return new Page(items, next);
    }
}

/// <summary>An opaque list cursor.</summary>
public static class Cursor
{
    public static string Encode(DateTimeOffset createdAt, Guid id) =>
        System.Buffers.Text.Base64Url.EncodeToString(System.Text.Encoding.UTF8.GetBytes($"{createdAt.UtcTicks}:{id:N}"));

    public static bool TryDecode(string cursor, out (DateTimeOffset CreatedAt, Guid Id) value)
    {
        value = default;
        try
        {
            var parts = System.Text.Encoding.UTF8.GetString(System.Buffers.Text.Base64Url.DecodeFromChars(cursor)).Split(':');
            if (parts.Length != 2 || !long.TryParse(parts[0], out var ticks) || !Guid.TryParseExact(parts[1], "N", out var id)) return false;
            value = (new DateTimeOffset(ticks, TimeSpan.Zero), id);
            return true;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
