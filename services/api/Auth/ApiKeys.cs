using System.Security.Cryptography;
using System.Text;
using Npgsql;

namespace Boxes.Api.Auth;

/// <summary>Who is calling: the organisation behind a valid, unrevoked key.</summary>
public sealed record Caller(Guid OrganizationId, string Plan, Guid KeyId, IReadOnlyList<string> Permissions);

public sealed record Organization(Guid Id, string Name, string Plan);

/// <summary>Organisations and their API keys. Keys are <c>br_live_</c> + 40 random characters; only their SHA-256 is stored.</summary>
public sealed class ApiKeys(NpgsqlDataSource dataSource)
{
    public const string Prefix = "br_live_";
    private const string Alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

    public static string NewKey() => Prefix + RandomNumberGenerator.GetString(Alphabet, 40);

    public static byte[] Hash(string key) => SHA256.HashData(Encoding.UTF8.GetBytes(key));

    public async Task<Caller?> AuthenticateAsync(string key, CancellationToken ct)
    {
        if (!key.StartsWith(Prefix, StringComparison.Ordinal) || key.Length > 200) return null;
        await using var cmd = dataSource.CreateCommand("""
            SELECT k.organization_id, o.plan, k.id, k.permissions
            FROM api.api_keys k JOIN api.organizations o ON o.id = k.organization_id
            WHERE k.key_hash = $1 AND k.revoked_at IS NULL
            """);
        cmd.Parameters.Add(new() { Value = Hash(key) });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? new Caller(r.GetGuid(0), r.GetString(1), r.GetGuid(2), r.GetFieldValue<string[]>(3)) : null;
    }

    public async Task<(Organization Org, string ApiKey)> CreateOrganizationAsync(string name, string plan, CancellationToken ct)
    {
        var org = new Organization(Guid.CreateVersion7(), name, plan);
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var cmd = new NpgsqlCommand("INSERT INTO api.organizations (id, name, plan) VALUES ($1, $2, $3)", conn, tx))
        {
            cmd.Parameters.Add(new() { Value = org.Id });
            cmd.Parameters.Add(new() { Value = name });
            cmd.Parameters.Add(new() { Value = plan });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        var (_, key) = await InsertKeyAsync(conn, tx, org.Id, [], ct);
        await tx.CommitAsync(ct);
        return (org, key);
    }

    public async Task<(Guid KeyId, string ApiKey)?> CreateKeyAsync(Guid organizationId, IReadOnlyList<string> permissions, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        if (await FindOrganizationAsync(conn, tx, organizationId, ct) is null) return null;
        var created = await InsertKeyAsync(conn, tx, organizationId, permissions, ct);
        await tx.CommitAsync(ct);
        return created;
    }

    public async Task<bool> RevokeKeyAsync(Guid keyId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("UPDATE api.api_keys SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1");
        cmd.Parameters.Add(new() { Value = keyId });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<bool> SetPlanAsync(Guid organizationId, string plan, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand("UPDATE api.organizations SET plan = $2 WHERE id = $1");
        cmd.Parameters.Add(new() { Value = organizationId });
        cmd.Parameters.Add(new() { Value = plan });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    public async Task<Organization?> FindOrganizationAsync(Guid id, CancellationToken ct)
    {
        await using var conn = await dataSource.OpenConnectionAsync(ct);
        return await FindOrganizationAsync(conn, null, id, ct);
    }

    private static async Task<Organization?> FindOrganizationAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, Guid id, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand("SELECT name, plan FROM api.organizations WHERE id = $1", conn, tx);
        cmd.Parameters.Add(new() { Value = id });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? new Organization(id, r.GetString(0), r.GetString(1)) : null;
    }

    private static async Task<(Guid, string)> InsertKeyAsync(NpgsqlConnection conn, NpgsqlTransaction tx, Guid organizationId, IReadOnlyList<string> permissions, CancellationToken ct)
    {
        var key = NewKey();
        var id = Guid.CreateVersion7();
        await using var cmd = new NpgsqlCommand("INSERT INTO api.api_keys (id, organization_id, key_hash, permissions) VALUES ($1, $2, $3, $4)", conn, tx);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = organizationId });
        cmd.Parameters.Add(new() { Value = Hash(key) });
        cmd.Parameters.Add(new() { Value = permissions.ToArray() });
        await cmd.ExecuteNonQueryAsync(ct);
        return (id, key);
    }
}
