namespace Boxes.Api.Auth;

/// <summary>What a plan allows (config section <c>Plans</c>; these are the defaults).</summary>
public sealed class PlanLimits
{
    public int Rank { get; set; }
    public long MaxDurationMs { get; set; }
    public int ConcurrentBoxes { get; set; }
    /// <summary>
    /// vCPU-hours the organisation may use per calendar month (UTC), browsers and sandboxes together, as services/billing
    /// meters them. 0 means no monthly limit. Once this month's usage reaches it, creates are refused (PLAN_LIMIT_EXCEEDED).
    /// </summary>
    public double MonthlyVcpuHours { get; set; }
    public bool Stealth { get; set; }
    public bool Recording { get; set; }
    public bool DedicatedIsolation { get; set; }

    public bool HasMonthlyLimit => MonthlyVcpuHours > 0;
}

public sealed class PlanCatalog
{
    /// <summary>
    /// The defaults: free 15 min / 2 at once / 10 vCPU-hours a month; builder 1 h / 10 / 100 (stealth); pro 4 h / 50 / 1 000
    /// (recording, dedicated isolation); enterprise 24 h / 500 / unlimited. Configuration binds into these entries, so
    /// <c>Plans__Plans__free__MonthlyVcpuHours=5</c> changes that one number and keeps the rest.
    /// </summary>
    public Dictionary<string, PlanLimits> Plans { get; set; } = new(StringComparer.Ordinal)
    {
        ["free"] = new() { Rank = 0, MaxDurationMs = 15 * 60_000, ConcurrentBoxes = 2, MonthlyVcpuHours = 10 },
        ["builder"] = new() { Rank = 1, MaxDurationMs = 60 * 60_000, ConcurrentBoxes = 10, MonthlyVcpuHours = 100, Stealth = true },
        ["pro"] = new() { Rank = 2, MaxDurationMs = 4 * 60 * 60_000, ConcurrentBoxes = 50, MonthlyVcpuHours = 1000, Stealth = true, Recording = true, DedicatedIsolation = true },
        ["enterprise"] = new() { Rank = 3, MaxDurationMs = 24 * 60 * 60_000, ConcurrentBoxes = 500, MonthlyVcpuHours = 0, Stealth = true, Recording = true, DedicatedIsolation = true },
    };

    public static readonly string[] Names = ["free", "builder", "pro", "enterprise"];

    public PlanLimits For(string plan) => Plans.TryGetValue(plan, out var p) ? p : Plans["free"];

    /// <summary>The lowest plan with a feature, for PLAN_FEATURE_UNAVAILABLE's requiredPlan.</summary>
    public string LowestWith(Func<PlanLimits, bool> feature) =>
        Plans.Where(p => feature(p.Value)).OrderBy(p => p.Value.Rank).Select(p => p.Key).FirstOrDefault() ?? "enterprise";

    /// <summary>The lowest plan allowing at least this duration, or null when none does.</summary>
    public string? LowestAllowing(long maxDurationMs) =>
        Plans.Where(p => p.Value.MaxDurationMs >= maxDurationMs).OrderBy(p => p.Value.Rank).Select(p => p.Key).FirstOrDefault();

    /// <summary>
    /// The lowest plan whose monthly allowance is above <paramref name="vcpuHours"/> (an unlimited plan always is), for the
    /// monthly limit's requiredPlan; null when no plan's is.
    /// </summary>
    public string? LowestWithMonthlyAllowanceAbove(double vcpuHours) =>
        Plans.Where(p => !p.Value.HasMonthlyLimit || p.Value.MonthlyVcpuHours > vcpuHours)
            .OrderBy(p => p.Value.Rank).Select(p => p.Key).FirstOrDefault();
}
