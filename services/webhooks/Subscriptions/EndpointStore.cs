using Boxes.Webhooks.Delivery;
using Boxes.Webhooks.Signing;
using Npgsql;

namespace Boxes.Webhooks.Subscriptions;

/// <summary>An endpoint as the routes show it (never with its secret, which only create and rotate reveal, once).</summary>
public sealed record WebhookEndpoint(
    Guid Id, string Url, IReadOnlyList<string> EventTypes, string Status, DateTimeOffset CreatedAt,
    DateTimeOffset? DisabledAt, string? DisabledReason, DateTimeOffset? FailingSince);

/// <summary>
/// The endpoints table. Every query names the organisation along with the id: another organisation's endpoint is
/// indistinguishable from one that does not exist (WebhookRouteTests.Another_organisations_webhook_is_not_found_on_every_route).
/// </summary>
public sealed class EndpointStore(NpgsqlDataSource dataSource)
{
    private const string Columns = "id, url, event_types, created_at, disabled_at, disabled_reason, failing_since";

    public async Task<(WebhookEndpoint Endpoint, string Secret)> CreateAsync(
        Guid organizationId, string url, IReadOnlyList<string> eventTypes, DateTimeOffset now, CancellationToken ct)
    {
        var secret = WebhookSignature.NewSecret();
        await using var cmd = dataSource.CreateCommand($"""
            INSERT INTO webhooks.endpoints (id, organization_id, url, event_types, secret, created_at)
            VALUES ($1, $2, $3, $4, $5, $6)
            RETURNING {Columns}
            """);
        cmd.Parameters.Add(new() { Value = Guid.NewGuid() });
        cmd.Parameters.Add(new() { Value = organizationId });
        cmd.Parameters.Add(new() { Value = url });
        cmd.Parameters.Add(new() { Value = eventTypes.ToArray() });
        cmd.Parameters.Add(new() { Value = secret });
        cmd.Parameters.Add(new() { Value = now });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        await r.ReadAsync(ct);
        return (Read(r), secret);
    }

    public async Task<IReadOnlyList<WebhookEndpoint>> ListAsync(Guid organizationId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            SELECT {Columns} FROM webhooks.endpoints
            WHERE organization_id = $1 AND deleted_at IS NULL
            ORDER BY created_at DESC, id DESC
            """);
        cmd.Parameters.Add(new() { Value = organizationId });
        var list = new List<WebhookEndpoint>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) list.Add(Read(r));
        return list;
    }

    public async Task<WebhookEndpoint?> GetAsync(Guid organizationId, Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            SELECT {Columns} FROM webhooks.endpoints WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = organizationId });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    /// <summary>Marks the endpoint deleted and gives up its pending deliveries. False when there is no such endpoint.</summary>
    public async Task<bool> DeleteAsync(Guid organizationId, Guid id, DateTimeOffset now, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // Endpoint row first, then its deliveries: the lock order DeliveryStore.RecordAsync uses too.
        await using (var cmd = new NpgsqlCommand("""
            UPDATE webhooks.endpoints SET deleted_at = $3 WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL
            """, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = organizationId });
            cmd.Parameters.Add(new() { Value = now });
            if (await cmd.ExecuteNonQueryAsync(ct) == 0) return false;
        }
        await using var batch = new NpgsqlBatch(conn, tx);
        batch.BatchCommands.Add(DeliveryStore.StopPending(id));
        await batch.ExecuteNonQueryAsync(ct);
        await tx.CommitAsync(ct);
        return true;
    }

    /// <summary>A new secret; the current one keeps signing beside it until <paramref name="previousExpiresAt"/>.</summary>
    public async Task<string?> RotateSecretAsync(Guid organizationId, Guid id, DateTimeOffset previousExpiresAt, CancellationToken ct)
    {
        var secret = WebhookSignature.NewSecret();
        await using var cmd = dataSource.CreateCommand("""
            UPDATE webhooks.endpoints SET previous_secret = secret, previous_secret_expires_at = $3, secret = $4
            WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = organizationId });
        cmd.Parameters.Add(new() { Value = previousExpiresAt });
        cmd.Parameters.Add(new() { Value = secret });
        return await cmd.ExecuteNonQueryAsync(ct) == 1 ? secret : null;
    }

    /// <summary>Makes a disabled endpoint active again, with a clean failure record. Null when there is no such endpoint.</summary>
    public async Task<WebhookEndpoint?> EnableAsync(Guid organizationId, Guid id, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"""
            UPDATE webhooks.endpoints SET disabled_at = NULL, disabled_reason = NULL,
                failing_since = CASE WHEN disabled_at IS NULL THEN failing_since END
            WHERE id = $1 AND organization_id = $2 AND deleted_at IS NULL
            RETURNING {Columns}
            """);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = organizationId });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    private static WebhookEndpoint Read(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetString(1), r.GetFieldValue<string[]>(2),
        r.IsDBNull(4) ? "active" : "disabled",
        r.GetFieldValue<DateTimeOffset>(3),
        r.IsDBNull(4) ? null : r.GetFieldValue<DateTimeOffset>(4),
        r.IsDBNull(5) ? null : r.GetString(5),
        r.IsDBNull(6) ? null : r.GetFieldValue<DateTimeOffset>(6));
}
