using System.Reflection;
using Npgsql;

namespace Boxes.EventStore;

/// <summary>
/// Applies numbered SQL files (embedded resources named <c>*.Migrations.NNN_name.sql</c>) once each,
/// in order. Every service owns its migrations under its own scope name.
/// </summary>
public static class SqlMigrations
{
    public static async Task ApplyAsync(NpgsqlDataSource dataSource, string scope, Assembly assembly, CancellationToken ct = default)
    {
        var scripts = assembly.GetManifestResourceNames()
            .Where(n => n.Contains(".Migrations.", StringComparison.Ordinal) && n.EndsWith(".sql", StringComparison.Ordinal))
            .Select(n => (Name: n[(n.IndexOf(".Migrations.", StringComparison.Ordinal) + 12)..], Resource: n))
            .OrderBy(s => s.Name, StringComparer.Ordinal)
            .ToList();

        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // Several replicas may start at once: a transaction-scoped advisory lock lets one migrate while
        // the others wait and then find nothing left to do.
        await Exec(conn, tx, "SELECT pg_advisory_xact_lock(hashtextextended('boxes-migrations', 0))", ct);
        await Exec(conn, tx, """
            CREATE TABLE IF NOT EXISTS public.schema_migrations (
                scope text NOT NULL, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(),
                PRIMARY KEY (scope, name))
            """, ct);
        foreach (var (name, resource) in scripts)
        {
            await using (var check = new NpgsqlCommand("SELECT 1 FROM public.schema_migrations WHERE scope = $1 AND name = $2", conn, tx))
            {
                check.Parameters.Add(new() { Value = scope });
                check.Parameters.Add(new() { Value = name });
                if (await check.ExecuteScalarAsync(ct) is not null) continue;
            }
            await using var stream = assembly.GetManifestResourceStream(resource)!;
            using var reader = new StreamReader(stream);
            await Exec(conn, tx, await reader.ReadToEndAsync(ct), ct);
            await using var mark = new NpgsqlCommand("INSERT INTO public.schema_migrations (scope, name) VALUES ($1, $2)", conn, tx);
            mark.Parameters.Add(new() { Value = scope });
            mark.Parameters.Add(new() { Value = name });
            await mark.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
    }

    private static async Task Exec(NpgsqlConnection conn, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn, tx);
        await cmd.ExecuteNonQueryAsync(ct);
    }
}
