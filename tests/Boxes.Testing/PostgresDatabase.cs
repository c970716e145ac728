using Npgsql;

namespace Boxes.Testing;

/// <summary>A fresh, empty database for one test class or collection; dropped afterwards.</summary>
public sealed class PostgresDatabase : IAsyncDisposable
{
    public string Name { get; }
    public string ConnectionString { get; }
    public NpgsqlDataSource DataSource { get; }

    private PostgresDatabase(string name, string connectionString)
    {
        Name = name;
        ConnectionString = connectionString;
        DataSource = NpgsqlDataSource.Create(connectionString);
    }

    public static async Task<PostgresDatabase> CreateAsync(string prefix = "boxes_test")
    {
        var admin = TestEnvironment.PostgresAdmin;
        var name = $"{prefix}_{Guid.NewGuid():N}"[..Math.Min(63, prefix.Length + 33)];
        await using (var conn = new NpgsqlConnection(admin))
        {
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        var cs = new NpgsqlConnectionStringBuilder(admin) { Database = name, Pooling = true, MaxPoolSize = 40 }.ConnectionString;
        return new PostgresDatabase(name, cs);
    }

    public async ValueTask DisposeAsync()
    {
        await DataSource.DisposeAsync();
        NpgsqlConnection.ClearAllPools();
        try
        {
            await using var conn = new NpgsqlConnection(TestEnvironment.PostgresAdmin);
            await conn.OpenAsync();
            await using var cmd = new NpgsqlCommand($"DROP DATABASE IF EXISTS \"{Name}\" WITH (FORCE)", conn);
            await cmd.ExecuteNonQueryAsync();
        }
        catch (NpgsqlException)
        {
            // A leftover test database is harmless; the next run creates its own.
        }
    }
}
