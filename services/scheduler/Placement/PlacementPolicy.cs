using Boxes.Contracts;

namespace Boxes.Scheduler.Placement;

/// <summary>A live worker as placement sees it: its capacity and what it already holds.</summary>
public sealed record WorkerLoad(string WorkerId, string Region, IReadOnlyList<string> Kinds, int Capacity, int UsedSlots, int Boxes, bool HasDedicated);

/// <summary>Where a box goes. Pure: no I/O, so every rule is unit-tested.</summary>
public static class PlacementPolicy
{
    /// <summary>Slots a box takes on a worker: a light browser 1, medium 2, heavy 4; a standard sandbox 2.</summary>
    public static int SlotsFor(string kind, BoxSpec spec) => kind switch
    {
        BoxKinds.Sandbox => 2,
        _ => spec.Weight switch { "medium" => 2, "heavy" => 4, _ => 1 },
    };

    public static bool IsDedicated(BoxSpec spec) => spec.Isolation == "dedicated";

    /// <summary>
    /// The least loaded worker that runs this kind and has room, preferring the requested region. When a
    /// region is asked for and no worker there has room, the box goes elsewhere rather than failing: a
    /// region is a preference in the SDK ("Preferred region"), not a constraint.
    /// A dedicated box needs a worker holding nothing else, and no box joins a worker that holds a dedicated one.
    /// </summary>
    public static WorkerLoad? Choose(IEnumerable<WorkerLoad> workers, string kind, BoxSpec spec)
    {
        var slots = SlotsFor(kind, spec);
        var dedicated = IsDedicated(spec);
        var fitting = workers
            .Where(w => w.Kinds.Contains(kind))
            .Where(w => !w.HasDedicated)
            .Where(w => dedicated ? w.Boxes == 0 && w.Capacity >= slots : w.Capacity - w.UsedSlots >= slots)
            .ToList();
        var preferred = spec.Region is { Length: > 0 } region
            ? fitting.Where(w => string.Equals(w.Region, region, StringComparison.OrdinalIgnoreCase)).ToList()
            : [];
        var candidates = preferred.Count > 0 ? preferred : fitting;
        return candidates
            .OrderBy(w => (double)w.UsedSlots / Math.Max(1, w.Capacity))
            .ThenBy(w => w.WorkerId, StringComparer.Ordinal)
            .FirstOrDefault();
    }
}
