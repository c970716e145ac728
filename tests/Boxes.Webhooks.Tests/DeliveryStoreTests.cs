using Boxes.EventStore;
using Boxes.Testing;
using Boxes.Webhooks.Delivery;
using Boxes.Webhooks.Subscriptions;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>A database with the webhooks schema and no service running: the store's concurrency rules, one claimer against another.</summary>
public sealed class StoreDatabase : IAsyncLifetime
{
    public PostgresDatabase Database { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Database = await PostgresDatabase.CreateAsync("webhooks_store_test");
        await SqlMigrations.ApplyAsync(Database.DataSource, "webhooks", typeof(DeliveryStore).Assembly);
    }

    public Task DisposeAsync() => Database is null ? Task.CompletedTask : Database.DisposeAsync().AsTask();
}

public sealed class DeliveryStoreTests(StoreDatabase db) : IClassFixture<StoreDatabase>
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(45);
    private readonly DeliveryStore _store = new(db.Database.DataSource);
    private readonly EndpointStore _endpoints = new(db.Database.DataSource);

    private async Task<(Guid Org, Guid Endpoint)> Endpoint(DateTimeOffset now)
    {
        var org = Guid.NewGuid();
        var (endpoint, _) = await _endpoints.CreateAsync(org, "http://127.0.0.1:9/x", ["session.ready"], now, CancellationToken.None);
        return (org, endpoint.Id);
    }

    private static AttemptOutcome Failure(DateTimeOffset at) => new(at, 5, 500, "answered 500", null);

    [Fact]
    public async Task The_same_event_enqueued_by_many_consumers_at_once_makes_one_delivery_per_endpoint()
    {
        var now = DateTimeOffset.UtcNow;
        var (org, _) = await Endpoint(now);
        var eventId = Guid.NewGuid();
        var made = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ =>
            _store.EnqueueForSubscribersAsync(org, eventId, "session.ready", "{}", now, CancellationToken.None)));
        Assert.Equal(1, made.Sum());
        Assert.Equal(0, await _store.EnqueueForSubscribersAsync(org, eventId, "session.ready", "{}", now, CancellationToken.None));
        Assert.Equal(0, await _store.EnqueueForSubscribersAsync(org, Guid.NewGuid(), "session.ended", "{}", now, CancellationToken.None));
        Assert.Equal(0, await _store.EnqueueForSubscribersAsync(Guid.NewGuid(), Guid.NewGuid(), "session.ready", "{}", now, CancellationToken.None));
    }

    [Fact]
    public async Task Concurrent_claimers_together_never_take_more_than_the_cap_of_one_endpoint()
    {
        // Pooled connections ready, so that the claimers' statements really overlap instead of queueing on connects.
        var warm = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => db.Database.DataSource.OpenConnectionAsync().AsTask()));
        foreach (var c in warm) await c.DisposeAsync();

        for (var round = 0; round < 10; round++)
        {
            var now = DateTimeOffset.UtcNow;
            var (org, endpoint) = await Endpoint(now);
            for (var i = 0; i < 30; i++) await _store.EnqueueForSubscribersAsync(org, Guid.NewGuid(), "session.ready", "{}", now, CancellationToken.None);

            var claims = await Task.WhenAll(Enumerable.Range(0, 24).Select(_ => Task.Run(() => _store.ClaimAsync(now, 10, perEndpoint: 3, Lease, CancellationToken.None))));
            var mine = claims.SelectMany(c => c).Where(c => c.EndpointId == endpoint).ToList();
            Assert.Equal(3, mine.Count);
            Assert.Equal(3, mine.Select(c => c.Id).Distinct().Count());
            Assert.All(mine, c => Assert.Equal(1, c.Attempt));
        }
    }

    [Fact]
    public async Task A_claimed_delivery_is_taken_again_only_when_its_lease_ran_out_and_the_late_attempt_is_then_not_recorded()
    {
        var now = DateTimeOffset.UtcNow;
        var (org, endpoint) = await Endpoint(now);
        await _store.EnqueueForSubscribersAsync(org, Guid.NewGuid(), "session.ready", "{}", now, CancellationToken.None);

        var first = Assert.Single(await _store.ClaimAsync(now, 10, 4, Lease, CancellationToken.None), c => c.EndpointId == endpoint);
        Assert.DoesNotContain(await _store.ClaimAsync(now.AddSeconds(1), 10, 4, Lease, CancellationToken.None), c => c.EndpointId == endpoint);

        // The first process stalled past its lease: another takes the delivery and records its attempt.
        var later = now + Lease + TimeSpan.FromSeconds(1);
        var second = Assert.Single(await _store.ClaimAsync(later, 10, 4, Lease, CancellationToken.None), c => c.EndpointId == endpoint);
        Assert.Equal(first.Id, second.Id);
        var recorded = await _store.RecordAsync(second, Failure(later), () => later.AddSeconds(5), later, TimeSpan.FromDays(5), CancellationToken.None);
        Assert.True(recorded.Recorded);
        Assert.Equal("pending", recorded.Status);

        // The stalled one finishes: its attempt is dropped, not written over the other's.
        var stale = await _store.RecordAsync(first, Failure(now), () => now.AddSeconds(5), later, TimeSpan.FromDays(5), CancellationToken.None);
        Assert.False(stale.Recorded);
        await using var cmd = db.Database.DataSource.CreateCommand("SELECT count(*) FROM webhooks.attempts WHERE delivery_id = $1");
        cmd.Parameters.Add(new() { Value = first.Id });
        Assert.Equal(1L, await cmd.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_delivery_is_not_claimed_before_its_next_attempt_and_is_claimed_after()
    {
        var now = DateTimeOffset.UtcNow;
        var (org, endpoint) = await Endpoint(now);
        await _store.EnqueueForSubscribersAsync(org, Guid.NewGuid(), "session.ready", "{}", now, CancellationToken.None);
        var claimed = Assert.Single(await _store.ClaimAsync(now, 10, 4, Lease, CancellationToken.None), c => c.EndpointId == endpoint);
        await _store.RecordAsync(claimed, Failure(now), () => now.AddMinutes(5), now, TimeSpan.FromDays(5), CancellationToken.None);

        Assert.DoesNotContain(await _store.ClaimAsync(now.AddMinutes(4), 10, 4, Lease, CancellationToken.None), c => c.EndpointId == endpoint);
        var retry = Assert.Single(await _store.ClaimAsync(now.AddMinutes(5), 10, 4, Lease, CancellationToken.None), c => c.EndpointId == endpoint);
        Assert.Equal(2, retry.Attempt);
    }
}
