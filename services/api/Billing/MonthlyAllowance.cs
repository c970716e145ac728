using System.Collections.Concurrent;
using System.Globalization;
using Boxes.Api.Auth;
using Boxes.Api.Errors;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Billing;

/// <summary>
/// The plans' monthly vCPU-hour allowance, checked on every create of either kind before anything is appended
/// (<see cref="Lifecycle.BoxRoutes"/>). The figure is billing's usage for this calendar month (UTC), browsers and
/// sandboxes together, the still-running part of running boxes included.
/// <para>
/// Off the hot path's latency as far as reasonable: a plan without a monthly limit never asks billing; otherwise each
/// organisation's figure is kept for <see cref="BillingOptions.UsageCacheTtl"/> (5 s) and shared by concurrent creates,
/// so a burst of creates asks billing once, and a slow billing service costs a create at most
/// <see cref="BillingOptions.LimitCheckTimeout"/> (2 s). The price is that an organisation can go over its allowance by
/// what it uses in those few seconds.
/// </para>
/// <para>
/// When billing cannot be asked (unreachable, too slow, refusing our key, answering nonsense), the create goes ahead and a
/// warning is logged: an outage of metering must not stop the platform, and billing catches up with the usage from the
/// box events once it is back (the next check after that refuses if the allowance is gone). The failure is kept for the
/// same few seconds as a figure, so an outage costs each organisation at most one wait per <c>UsageCacheTtl</c>.
/// </para>
/// </summary>
public sealed class MonthlyAllowance(BillingClient billing, IOptions<PlanCatalog> plans, IOptions<BillingOptions> options, TimeProvider clock,
    ILogger<MonthlyAllowance> logger)
{
    private sealed record Entry(BillingPeriod Period, DateTimeOffset FetchedAt, Lazy<Task<double?>> VcpuSeconds);

    private readonly ConcurrentDictionary<Guid, Entry> _entries = new();

    /// <summary>PLAN_LIMIT_EXCEEDED when this month's usage has reached the caller's plan's allowance; null to go ahead.</summary>
    public async Task<ApiError?> CheckAsync(Caller caller, CancellationToken ct)
    {
        var catalog = plans.Value;
        var plan = catalog.For(caller.Plan);
        if (!plan.HasMonthlyLimit) return null;
        var now = clock.GetUtcNow();
        var period = BillingPeriod.MonthOf(now);
        if (await VcpuSecondsAsync(caller.OrganizationId, period, now, ct) is not { } used) return null;
        var usedHours = used / 3600;
        if (usedHours < plan.MonthlyVcpuHours) return null;
        var required = catalog.LowestWithMonthlyAllowanceAbove(usedHours);
        return ApiError.PlanLimit(string.Create(CultureInfo.InvariantCulture,
            $"This organisation has used {usedHours:0.###} vCPU-hours this month, the {caller.Plan} plan's monthly allowance of {plan.MonthlyVcpuHours:0.###}; " +
            $"it renews at {BillingPeriod.Iso(period.End)}{(required is null ? "." : $", or upgrade to {required}.")}"),
            required, caller.Plan);
    }

    /// <summary>Forgets the organisation's figure (e.g. after its plan changed), so the next create asks billing again.</summary>
    public void Forget(Guid organizationId) => _entries.TryRemove(organizationId, out _);

    private Task<double?> VcpuSecondsAsync(Guid organizationId, BillingPeriod period, DateTimeOffset now, CancellationToken ct)
    {
        var ttl = options.Value.UsageCacheTtl;
        // The Lazy makes one fetch per entry even when several creates race to replace a stale one: only the entry that
        // won is ever started.
        var entry = _entries.AddOrUpdate(organizationId,
            _ => NewEntry(organizationId, period, now),
            (_, old) => old.Period == period && now - old.FetchedAt < ttl && now >= old.FetchedAt ? old : NewEntry(organizationId, period, now));
        // The fetch is shared, so it runs under its own deadline, not this caller's token; this caller only stops waiting.
        return entry.VcpuSeconds.Value.WaitAsync(ct);
    }

    private Entry NewEntry(Guid organizationId, BillingPeriod period, DateTimeOffset now) =>
        new(period, now, new Lazy<Task<double?>>(() => FetchAsync(organizationId, period)));

    private async Task<double?> FetchAsync(Guid organizationId, BillingPeriod period)
    {
        double? seconds;
        Sandboxes.WorkerDataPlane.Answer? failure;
        try
        {
            (seconds, failure) = await billing.VcpuSecondsAsync(organizationId, period, CancellationToken.None, options.Value.LimitCheckTimeout);
        }
        catch (Exception ex)
        {
            // Shared by every waiting create for a few seconds: a surprise here must not turn them all into 500s.
            logger.LogWarning(ex, "Reading this month's usage of organisation {OrganizationId} failed; creates go ahead without the monthly check", organizationId);
            return null;
        }
        if (failure is null) return seconds;
        using (failure)
        {
            logger.LogWarning(
                "Could not read this month's usage of organisation {OrganizationId} from the billing service ({Reason}); creates go ahead without the monthly check",
                organizationId, failure.Error?.Message ?? $"it answered {(int)failure.Response!.StatusCode}");
        }
        return null;
    }
}
