using Boxes.Contracts;
using Boxes.Scheduler.Placement;

namespace Boxes.Scheduler.Tests;

/// <summary>Where a box goes: pure rules, no I/O.</summary>
public sealed class PlacementPolicyTests
{
    private static WorkerLoad Worker(string id, int capacity = 4, int used = 0, int boxes = -1, string region = "eu",
        string[]? kinds = null, bool hasDedicated = false) =>
        new(id, region, kinds ?? [BoxKinds.Browser], capacity, used, boxes < 0 ? used : boxes, hasDedicated);

    private static string? Choose(BoxSpec spec, params WorkerLoad[] workers) => Choose(BoxKinds.Browser, spec, workers);

    private static string? Choose(string kind, BoxSpec spec, params WorkerLoad[] workers) =>
        PlacementPolicy.Choose(workers, kind, spec)?.WorkerId;

    [Fact]
    public void No_workers_means_no_placement() =>
        Assert.Null(Choose(new BoxSpec()));

    [Fact]
    public void It_prefers_the_least_loaded_worker() =>
        Assert.Equal("b", Choose(new BoxSpec(), Worker("a", used: 3), Worker("b", used: 1), Worker("c", used: 2)));

    [Fact]
    public void Load_is_measured_against_capacity() =>
        Assert.Equal("big", Choose(new BoxSpec(), Worker("small", capacity: 4, used: 2), Worker("big", capacity: 16, used: 4)));

    [Fact]
    public void Ties_go_to_the_same_worker_every_time() =>
        Assert.Equal("a", Choose(new BoxSpec(), Worker("b"), Worker("a")));

    [Fact]
    public void A_worker_must_run_the_boxes_kind()
    {
        Assert.Null(Choose(BoxKinds.Sandbox, new BoxSpec(), Worker("browsers-only")));
        Assert.Equal("both", Choose(BoxKinds.Sandbox, new BoxSpec(),
            Worker("browsers-only"), Worker("both", kinds: [BoxKinds.Browser, BoxKinds.Sandbox], used: 2)));
    }

    [Theory]
    [InlineData(null, 1)]
    [InlineData("light", 1)]
    [InlineData("medium", 2)]
    [InlineData("heavy", 4)]
    public void Weight_takes_slots(string? weight, int slots)
    {
        Assert.Equal(slots, PlacementPolicy.SlotsFor(BoxKinds.Browser, new BoxSpec { Weight = weight }));
        // Exactly enough room fits; one slot less does not.
        Assert.Equal("w", Choose(new BoxSpec { Weight = weight }, Worker("w", capacity: 4, used: 4 - slots)));
        Assert.Null(Choose(new BoxSpec { Weight = weight }, Worker("w", capacity: 4, used: 4 - slots + 1)));
    }

    [Fact]
    public void A_full_worker_is_skipped_for_one_with_room() =>
        Assert.Equal("roomy", Choose(new BoxSpec { Weight = "heavy" }, Worker("full", capacity: 8, used: 5), Worker("roomy", capacity: 8, used: 4)));

    [Fact]
    public void The_requested_region_is_preferred_even_when_busier() =>
        Assert.Equal("us-busy", Choose(new BoxSpec { Region = "us" },
            Worker("eu-idle", region: "eu"), Worker("us-busy", region: "us", used: 3)));

    [Fact]
    public void A_region_without_room_falls_back_to_another_region() =>
        Assert.Equal("eu-idle", Choose(new BoxSpec { Region = "us" },
            Worker("eu-idle", region: "eu"), Worker("us-full", region: "us", used: 4)));

    [Fact]
    public void A_dedicated_box_needs_a_worker_holding_nothing()
    {
        var spec = new BoxSpec { Isolation = "dedicated" };
        Assert.Null(Choose(spec, Worker("busy", used: 1)));
        Assert.Equal("empty", Choose(spec, Worker("busy", used: 1), Worker("empty")));
    }

    [Fact]
    public void Nothing_joins_a_worker_that_holds_a_dedicated_box() =>
        Assert.Null(Choose(new BoxSpec(), Worker("dedicated", used: 1, hasDedicated: true)));

    [Fact]
    public void A_dedicated_box_still_needs_the_capacity_its_weight_takes() =>
        Assert.Null(Choose(new BoxSpec { Isolation = "dedicated", Weight = "heavy" }, Worker("tiny", capacity: 2)));
}
