namespace Boxes.Api.Auth;

/// <summary>What a plan allows (config section <c>Plans</c>; these are the defaults).</summary>
public sealed class PlanLimits
{
    public int Rank { get; set; }
    public long MaxDurationMs { get; set; }
    public int ConcurrentBoxes { get; set; }
    public bool Stealth { get; set; }
    public bool Recording { get; set; }
    public bool DedicatedIsolation { get; set; }
}

public sealed class PlanCatalog
{
    public Dictionary<string, PlanLimits> Plans { get; set; } = new(StringComparer.Ordinal)
    {
        ["free"] = new() { Rank = 0, MaxDurationMs = 15 * 60_000, ConcurrentBoxes = 2 },
        ["builder"] = new() { Rank = 1, MaxDurationMs = 60 * 60_000, ConcurrentBoxes = 10, Stealth = true },
        ["pro"] = new() { Rank = 2, MaxDurationMs = 4 * 60 * 60_000, ConcurrentBoxes = 50, Stealth = true, Recording = true, DedicatedIsolation = true },
        ["enterprise"] = new() { Rank = 3, MaxDurationMs = 24 * 60 * 60_000, ConcurrentBoxes = 500, Stealth = true, Recording = true, DedicatedIsolation = true },
    };

    public static readonly string[] Names = ["free", "builder", "pro", "enterprise"];

    public PlanLimits For(string plan) => Plans.TryGetValue(plan, out var p) ? p : Plans["free"];

    /// <summary>The lowest plan with a feature, for PLAN_FEATURE_UNAVAILABLE's requiredPlan.</summary>
    public string LowestWith(Func<PlanLimits, bool> feature) =>
        Plans.Where(p => feature(p.Value)).OrderBy(p => p.Value.Rank).Select(p => p.Key).FirstOrDefault() ?? "enterprise";

    /// <summary>The lowest plan allowing at least this duration, or null when none does.</summary>
    public string? LowestAllowing(long maxDurationMs) =>
        Plans.Where(p => p.Value.MaxDurationMs >= maxDurationMs).OrderBy(p => p.Value.Rank).Select(p => p.Key).FirstOrDefault();
}
