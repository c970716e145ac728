using System.Diagnostics;
using Boxes.Testing;

namespace Boxes.Worker.Tests;

public sealed class PoolTests(ITestOutputHelper output) : ChromiumTestBase(output)
{
    protected override int PoolSize => 2;

    private int ProfileCount => DataDir.EnumerateDirectories("profile-*").Count();

    [Fact]
    public async Task Taking_from_a_warm_pool_is_fast_and_the_pool_refills()
    {
        await Pool.StartAsync(CancellationToken.None);
        await Eventually.Until(() => Pool.IdleCount == PoolSize, Deadline, $"the pool to pre-launch {PoolSize} browsers");

        var sw = Stopwatch.StartNew();
        await using var taken = await Pool.TakeAsync(CancellationToken.None);
        var warmTake = sw.Elapsed;
        Assert.False(taken.HasExited);

        await Eventually.Until(() => Pool.IdleCount == PoolSize, Deadline, "the pool to refill after the take");
        // Never above PoolSize idle: the taken browser plus PoolSize idle ones, and no spare launches.
        await Eventually.Until(() => ProfileCount == PoolSize + 1, Deadline, $"exactly {PoolSize + 1} profiles (have {ProfileCount})");
        Assert.Equal(PoolSize, Pool.IdleCount);

        // For the record, not an assertion: what the pool saves.
        sw.Restart();
        await using (await Launcher.LaunchAsync(CancellationToken.None)) Output.WriteLine($"cold launch: {sw.Elapsed.TotalMilliseconds:0.0} ms");
        Output.WriteLine($"warm take:   {warmTake.TotalMilliseconds:0.000} ms");
    }

    [Fact]
    public async Task A_take_that_empties_the_pool_refills_it_at_once_even_while_an_earlier_refill_waits_out_its_delay()
    {
        Options.RefillDelay = TimeSpan.FromHours(1); // a take that leaves a browser idle would refill only after an hour
        await Pool.StartAsync(CancellationToken.None);
        await Eventually.Until(() => Pool.IdleCount == PoolSize, Deadline, "a warm pool");

        await using var first = await Pool.TakeAsync(CancellationToken.None);
        Assert.Equal(PoolSize - 1, Pool.IdleCount);
        await using var second = await Pool.TakeAsync(CancellationToken.None); // the pool is empty now

        await Eventually.Until(() => Pool.IdleCount == PoolSize, Deadline, "the emptied pool to refill without waiting for the delay");
    }

    [Fact]
    public async Task A_burst_bigger_than_the_pool_is_served_and_the_pool_never_overfills()
    {
        await Pool.StartAsync(CancellationToken.None);
        await Eventually.Until(() => Pool.IdleCount == PoolSize, Deadline, "a warm pool");

        var taken = await Task.WhenAll(Enumerable.Range(0, PoolSize + 2).Select(_ => Pool.TakeAsync(CancellationToken.None)));
        try
        {
            Assert.Equal(taken.Length, taken.Select(b => b.Pid).Distinct().Count());
            Assert.All(taken, b => Assert.False(b.HasExited));
            await Eventually.Until(() => Pool.IdleCount == PoolSize, Deadline, "the pool to refill after the burst");
            await Eventually.Until(() => ProfileCount == taken.Length + PoolSize, Deadline,
                $"{taken.Length} taken + {PoolSize} idle profiles (have {ProfileCount})");
        }
        finally
        {
            await Task.WhenAll(taken.Select(b => b.StopAsync()));
        }
    }

    [Fact]
    public async Task An_idle_browser_that_dies_is_replaced()
    {
        await Pool.StartAsync(CancellationToken.None);
        await Eventually.Until(() => Pool.IdleCount == PoolSize, Deadline, "a warm pool");
        var victim = MainBrowserPids().First();
        var victimProfile = ProfileOf(victim);

        KillDashNine(victim);

        await Eventually.Until(() => !Directory.Exists(victimProfile) && ProcessesUsing(victimProfile).Count == 0, Deadline,
            "the dead idle browser to be cleaned up");
        await Eventually.Until(() => Pool.IdleCount == PoolSize && ProfileCount == PoolSize, Deadline, "the pool to replace it");
        await using var taken = await Pool.TakeAsync(CancellationToken.None);
        Assert.NotEqual(victim, taken.Pid);
        Assert.False(taken.HasExited);
    }

    [Fact]
    public async Task Stopping_the_pool_stops_its_idle_browsers()
    {
        await Pool.StartAsync(CancellationToken.None);
        await Eventually.Until(() => Pool.IdleCount == PoolSize, Deadline, "a warm pool");

        await Pool.StopAsync(CancellationToken.None);

        Assert.Equal(0, Pool.IdleCount);
        Assert.Equal(0, ProfileCount);
        Assert.Empty(ProcessesUsing(DataDir.FullName));
    }

    /// <summary>Chromium main processes of this test: they carry no --type= (helpers do) and are not crash handlers.</summary>
    private List<int> MainBrowserPids() =>
        ProcessesUsing(DataDir.FullName)
            .Where(p => CommandLine(p) is var cmd && !cmd.Contains("--type=", StringComparison.Ordinal) && !cmd.Contains("crashpad", StringComparison.Ordinal))
            .ToList();

    private static string ProfileOf(int pid) =>
        CommandLine(pid).Split(' ').Single(a => a.StartsWith("--user-data-dir=", StringComparison.Ordinal))["--user-data-dir=".Length..];
}
