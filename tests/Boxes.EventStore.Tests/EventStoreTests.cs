using Boxes.Testing;
using Npgsql;
using Xunit;
using Store = Boxes.EventStore.EventStore;
using Boxes.EventStore;

namespace Boxes.EventStore.Tests;

public sealed class EventStoreTests : IAsyncLifetime
{
    private PostgresDatabase _db = null!;
    private Store _store = null!;

    public async Task InitializeAsync()
    {
        _db = await PostgresDatabase.CreateAsync("es_test");
        await SqlMigrations.ApplyAsync(_db.DataSource, "event_store", typeof(Store).Assembly);
        _store = new Store(_db.DataSource);
    }

    public async Task DisposeAsync() => await _db.DisposeAsync();

    private static EventData Event(string type = "Thing", string data = "{}") => new(Guid.NewGuid(), type, data);

    /// <summary>
    /// Reads the whole log once it holds <paramref name="count"/> events. The horizon (pg_snapshot_xmin) is
    /// server-wide: any transaction still open anywhere on the server may hold a read back for a moment.
    /// </summary>
    private Task<IReadOnlyList<RecordedEvent>> ReadAllSettled(int count) =>
        Eventually.Until(() => _store.ReadAllAsync(LogPosition.Start, 10_000), e => e.Count >= count, TimeSpan.FromSeconds(30), $"{count} events in the log");

    [Fact]
    public async Task Appending_with_the_expected_version_moves_the_stream_on()
    {
        Assert.Equal(2, await _store.AppendAsync("s-1", ExpectedVersion.NoStream, [Event(), Event()]));
        Assert.Equal(3, await _store.AppendAsync("s-1", 2, [Event()]));
        var events = await _store.ReadStreamAsync("s-1");
        Assert.Equal([1L, 2L, 3L], events.Select(e => e.Version));
    }

    [Fact]
    public async Task Appending_with_a_stale_version_fails_clearly_and_writes_nothing()
    {
        await _store.AppendAsync("s-2", ExpectedVersion.NoStream, [Event()]);
        var ex = await Assert.ThrowsAsync<WrongExpectedVersionException>(
            () => _store.AppendAsync("s-2", ExpectedVersion.NoStream, [Event(), Event()]));
        Assert.Equal(1, ex.Actual);
        Assert.Contains("nothing was written", ex.Message);
        Assert.Single(await _store.ReadStreamAsync("s-2"));
    }

    [Fact]
    public async Task Two_writers_racing_on_one_version_leave_exactly_one_winner()
    {
        await _store.AppendAsync("s-race", ExpectedVersion.NoStream, [Event()]);
        var attempts = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            try { await _store.AppendAsync("s-race", 1, [Event()]); return true; }
            catch (WrongExpectedVersionException) { return false; }
        })).ToArray();
        var results = await Task.WhenAll(attempts);
        Assert.Equal(1, results.Count(ok => ok));
        Assert.Equal(2, (await _store.ReadStreamAsync("s-race")).Count);
    }

    [Fact]
    public async Task Appending_the_same_event_id_twice_stores_it_once()
    {
        var e = Event();
        await _store.AppendAsync("s-3", ExpectedVersion.NoStream, [e]);
        // A retry after a lost acknowledgement: same id, same expected version. Succeeds, writes nothing.
        Assert.Equal(1, await _store.AppendAsync("s-3", ExpectedVersion.NoStream, [e]));
        Assert.Single(await _store.ReadStreamAsync("s-3"));
    }

    [Fact]
    public async Task Events_get_increasing_global_positions_and_the_log_reads_them_all_in_order()
    {
        for (var i = 0; i < 5; i++) await _store.AppendAsync($"s-log-{i}", ExpectedVersion.Any, [Event(data: $$"""{"n":{{i}}}""")]);
        var all = await ReadAllSettled(5);
        Assert.Equal(5, all.Count);
        Assert.True(all.Zip(all.Skip(1)).All(p => p.First.GlobalPosition < p.Second.GlobalPosition));
        var page1 = await _store.ReadAllAsync(LogPosition.Start, 2);
        var page2 = await _store.ReadAllAsync(page1[^1].Position, 100);
        Assert.Equal(all.Select(e => e.EventId), page1.Concat(page2).Select(e => e.EventId));
    }

    [Fact]
    public async Task Reading_the_log_skips_nothing_when_transactions_commit_out_of_order()
    {
        // Transaction A appends first (takes the lower position) but commits last.
        await using var connA = await _db.DataSource.OpenConnectionAsync();
        await using var txA = await connA.BeginTransactionAsync();
        var slow = Event(type: "Slow");
        await _store.AppendAsync(txA, "s-slow", ExpectedVersion.Any, [slow]);

        var fast = Event(type: "Fast");
        await _store.AppendAsync("s-fast", ExpectedVersion.Any, [fast]);

        // While A is open, a reader must not move past it: the fast event is held back, not handed out.
        var whileOpen = await _store.ReadAllAsync(LogPosition.Start, 100);
        Assert.Empty(whileOpen);
        await using (var conn = await _db.DataSource.OpenConnectionAsync())
            Assert.True(await Store.HasHeldBackEventsAsync(conn, LogPosition.Start));

        await txA.CommitAsync();
        var after = await ReadAllSettled(2);
        Assert.Equal([slow.EventId, fast.EventId], after.Select(e => e.EventId));
    }

    [Fact]
    public async Task Concurrent_appends_to_one_stream_keep_version_order_in_the_log()
    {
        const int writers = 8, each = 10;
        await Task.WhenAll(Enumerable.Range(0, writers).Select(w => Task.Run(async () =>
        {
            for (var i = 0; i < each; i++) await _store.AppendAsync("s-busy", ExpectedVersion.Any, [Event()]);
        })));
        var log = await ReadAllSettled(writers * each);
        var versions = log.Where(e => e.StreamId == "s-busy").Select(e => e.Version).ToList();
        Assert.Equal(writers * each, versions.Count);
        Assert.Equal(Enumerable.Range(1, writers * each).Select(v => (long)v), versions);
    }

    [Fact]
    public async Task The_log_is_read_in_numeric_transaction_order_where_ids_gain_a_digit()
    {
        // Transaction ids written directly (all long committed, so below the read horizon): 9 < 10 < 99 < 100 < 999 < 1000,
        // which a text sort would put as 10, 100, 1000, 9, 99, 999.
        ulong[] xids = [1000, 9, 999, 10, 100, 99];
        await using (var conn = await _db.DataSource.OpenConnectionAsync())
        {
            foreach (var xid in xids)
            {
                await using var cmd = new NpgsqlCommand("""
                    INSERT INTO event_store.events (transaction_id, event_id, stream_id, version, type, data)
                    VALUES ($1::text::xid8, $2, $3, 1, 'Thing', '{}')
                    """, conn);
                cmd.Parameters.Add(new() { Value = xid.ToString(System.Globalization.CultureInfo.InvariantCulture) });
                cmd.Parameters.Add(new() { Value = Guid.NewGuid() });
                cmd.Parameters.Add(new() { Value = $"s-xid-{xid}" });
                await cmd.ExecuteNonQueryAsync();
            }
        }

        var all = await ReadAllSettled(xids.Length);
        Assert.Equal(xids.Order(), all.Select(e => e.TransactionId));
        // Paging from a checkpoint in the middle continues in the same order and skips nothing.
        var rest = await _store.ReadAllAsync(all[2].Position, 100);
        Assert.Equal(xids.Order().Skip(3), rest.Select(e => e.TransactionId));
    }

    [Fact]
    public async Task A_rolled_back_append_leaves_no_trace()
    {
        await using (var conn = await _db.DataSource.OpenConnectionAsync())
        await using (var tx = await conn.BeginTransactionAsync())
        {
            await _store.AppendAsync(tx, "s-rollback", ExpectedVersion.NoStream, [Event()]);
            await tx.RollbackAsync();
        }
        Assert.Empty(await _store.ReadStreamAsync("s-rollback"));
        Assert.Equal(1, await _store.AppendAsync("s-rollback", ExpectedVersion.NoStream, [Event()]));
    }

    [Fact]
    public async Task Applying_migrations_twice_is_harmless()
    {
        await SqlMigrations.ApplyAsync(_db.DataSource, "event_store", typeof(Store).Assembly);
        await using var conn = await _db.DataSource.OpenConnectionAsync();
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM public.schema_migrations WHERE scope = 'event_store'", conn);
        Assert.Equal(1L, await cmd.ExecuteScalarAsync());
    }
}
