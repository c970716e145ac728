using System.Threading.RateLimiting;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Auth;

/// <summary>
/// Config section <c>RateLimits</c>: a token bucket per API key. <see cref="Burst"/> requests may arrive at once;
/// after that the bucket refills at <see cref="TokensPerSecond"/>. The defaults sit well above what the test suites
/// and bench/Boxes.Bench send on one key (the bench polls a session every few milliseconds and fires 32 webhook
/// tests at once). Each API process keeps its own buckets: N replicas behind a balancer let a key through up to N
/// times the limit.
/// </summary>
public sealed class RateLimitOptions
{
    /// <summary>An operator can switch per-key limits off (<c>RateLimits__Enabled=false</c>).</summary>
    public bool Enabled { get; set; } = true;
    public int TokensPerSecond { get; set; } = 500;
    public int Burst { get; set; } = 1000;
    /// <summary>Per plan overrides (<c>RateLimits__Plans__free__TokensPerSecond</c>); what a plan leaves out is the default.</summary>
    public Dictionary<string, PlanRateLimit> Plans { get; set; } = new(StringComparer.Ordinal);

    public (int TokensPerSecond, int Burst) For(string plan) =>
        Plans.TryGetValue(plan, out var p) ? (p.TokensPerSecond ?? TokensPerSecond, p.Burst ?? Burst) : (TokensPerSecond, Burst);
}

public sealed class PlanRateLimit
{
    public int? TokensPerSecond { get; set; }
    public int? Burst { get; set; }
}

/// <summary>
/// The per-key token buckets (System.Threading.RateLimiting), partitioned by key id and plan, so that a key's plan
/// change takes its new limit at once and no two keys ever share a bucket. Buckets of idle keys are dropped by the
/// partitioned limiter itself.
/// </summary>
public sealed class KeyRateLimiter : IDisposable
{
    private readonly RateLimitOptions _options;
    private readonly PartitionedRateLimiter<Caller>? _limiter;

    public KeyRateLimiter(IOptions<RateLimitOptions> options)
    {
        _options = options.Value;
        if (!_options.Enabled) return;
        _limiter = PartitionedRateLimiter.Create<Caller, (Guid KeyId, string Plan)>(caller =>
            RateLimitPartition.GetTokenBucketLimiter((caller.KeyId, caller.Plan), partition =>
            {
                var (perSecond, burst) = _options.For(partition.Plan);
                return new TokenBucketRateLimiterOptions
                {
                    TokenLimit = burst,
                    TokensPerPeriod = perSecond,
                    ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                    QueueLimit = 0,
                    // No timer per bucket: the partitioned limiter replenishes every bucket from its own one.
                    AutoReplenishment = false,
                };
            }));
    }

    /// <summary>Takes one token from the caller's key; when there is none, how many whole seconds until there is.</summary>
    public (bool Allowed, int RetryAfterSeconds) TryAcquire(Caller caller)
    {
        if (_limiter is null) return (true, 0);
        using var lease = _limiter.AttemptAcquire(caller);
        if (lease.IsAcquired) return (true, 0);
        var wait = lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter) ? retryAfter : TimeSpan.FromSeconds(1);
        return (false, Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)));
    }

    /// <summary>The limit a caller's key is under, for the 429's message.</summary>
    public (int TokensPerSecond, int Burst) LimitFor(Caller caller) => _options.For(caller.Plan);

    public void Dispose() => _limiter?.Dispose();
}

public static class KeyRateLimitRegistration
{
    /// <summary>Registers the options (checked at start: a bucket of zero would refuse everything) and the limiter.</summary>
    public static IHostApplicationBuilder AddKeyRateLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>().Bind(builder.Configuration.GetSection("RateLimits"))
            .Validate(o => o.TokensPerSecond >= 1 && o.Burst >= 1
                           && o.Plans.Values.All(p => (p.TokensPerSecond is null or >= 1) && (p.Burst is null or >= 1)),
                "RateLimits:TokensPerSecond and RateLimits:Burst (and any RateLimits:Plans:<plan> override) must be at least 1; " +
                "set RateLimits:Enabled=false to switch the limits off.")
            .ValidateOnStart();
        builder.Services.AddSingleton<KeyRateLimiter>();
        return builder;
    }
}
