using System.Globalization;

namespace Boxes.Webhooks;

/// <summary>Configuration section <c>Webhooks</c> (env <c>Webhooks__...</c>).</summary>
public sealed class WebhooksOptions
{
    public const string Section = "Webhooks";

    /// <summary>The wait before each attempt of a delivery: the first is the wait before attempt 1 (immediately).</summary>
    public static readonly IReadOnlyList<TimeSpan> DefaultRetrySchedule =
    [
        TimeSpan.Zero, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(30),
        TimeSpan.FromHours(2), TimeSpan.FromHours(5), TimeSpan.FromHours(10), TimeSpan.FromHours(10),
    ];

    /// <summary>
    /// <c>Webhooks:RetrySchedule</c>: a list (<c>Webhooks__RetrySchedule__0=0s</c>, ...) or one comma-separated value
    /// (<c>0s,5s,5m,30m,2h,5h,10h,10h</c>); each entry is <c>500ms</c>, <c>5s</c>, <c>5m</c>, <c>2h</c>, <c>1d</c> or a TimeSpan.
    /// </summary>
    /// (Named apart from the key so that the binder leaves it to <see cref="ReadLists"/>.)
    public IReadOnlyList<TimeSpan> RetryDelays { get; set; } = DefaultRetrySchedule;

    /// <summary>Each wait is moved by up to this fraction either way, so that retries of many deliveries spread out.</summary>
    public double Jitter { get; set; } = 0.1;

    /// <summary>
    /// How long one attempt may take, connection and response headers included. (Not <c>Webhooks:Timeout</c>: the API
    /// reads that key for its own calls to this service, and one environment may hold both.)
    /// </summary>
    public TimeSpan DeliveryTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>An endpoint whose every attempt has failed for longer than this is disabled at its next failure.</summary>
    public TimeSpan DisableAfter { get; set; } = TimeSpan.FromDays(5);

    /// <summary>Deliveries in flight to one endpoint at once, across all webhooks processes.</summary>
    public int MaxInFlightPerEndpoint { get; set; } = 4;

    /// <summary>Deliveries in flight in this process at once.</summary>
    public int MaxConcurrentDeliveries { get; set; } = 64;

    /// <summary>The longest the delivery loop sleeps without a notification (a safety net: inserts notify it).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How long the old secret keeps signing beside the new one after a rotation.</summary>
    public TimeSpan SecretRotationOverlap { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// <c>Webhooks:AllowedHosts</c>: host names and CIDRs (<c>127.0.0.1/32</c>, <c>10.1.0.0/16</c>, <c>fd00::/8</c>) that
    /// the SSRF guard lets through although they are private or reserved. A list or one comma-separated value.
    /// </summary>
    /// (Named apart from the key so that the binder leaves it to <see cref="ReadLists"/>.)
    public IReadOnlyList<string> AllowedHostEntries { get; set; } = [];

    /// <summary>How long a claimed delivery stays with the process that claimed it: longer than any attempt can take.</summary>
    public TimeSpan Lease => DeliveryTimeout + TimeSpan.FromSeconds(30);

    /// <summary>The two list settings, read from either form (the binder only knows the indexed one).</summary>
    public void ReadLists(IConfigurationSection section)
    {
        if (ReadList(section.GetSection("RetrySchedule")) is { Count: > 0 } schedule)
            RetryDelays = schedule.Select(ParseDuration).ToList();
        if (ReadList(section.GetSection("AllowedHosts")) is { } allowed)
            AllowedHostEntries = allowed;
    }

    private static List<string>? ReadList(IConfigurationSection section)
    {
        if (!string.IsNullOrWhiteSpace(section.Value))
            return section.Value.Split([',', ' ', ';'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        var children = section.GetChildren().Where(c => !string.IsNullOrWhiteSpace(c.Value))
            .OrderBy(c => int.TryParse(c.Key, CultureInfo.InvariantCulture, out var i) ? i : int.MaxValue)
            .Select(c => c.Value!.Trim()).ToList();
        return children.Count > 0 ? children : null;
    }

    /// <summary><c>500ms</c>, <c>5s</c>, <c>5m</c>, <c>2h</c>, <c>1d</c>, or anything TimeSpan parses (<c>00:00:05</c>).</summary>
    public static TimeSpan ParseDuration(string text)
    {
        var s = text.Trim();
        var (unit, digits) = s.EndsWith("ms", StringComparison.OrdinalIgnoreCase)
            ? (TimeSpan.FromMilliseconds(1), s[..^2])
            : s.Length > 0 && char.ToLowerInvariant(s[^1]) switch { 's' or 'm' or 'h' or 'd' => true, _ => false }
                ? (char.ToLowerInvariant(s[^1]) switch
                {
                    's' => TimeSpan.FromSeconds(1), 'm' => TimeSpan.FromMinutes(1), 'h' => TimeSpan.FromHours(1), _ => TimeSpan.FromDays(1),
                }, s[..^1])
                : (TimeSpan.Zero, s);
        if (unit != TimeSpan.Zero && double.TryParse(digits, NumberStyles.Float, CultureInfo.InvariantCulture, out var n) && n >= 0)
            return unit * n;
        if (TimeSpan.TryParse(s, CultureInfo.InvariantCulture, out var span) && span >= TimeSpan.Zero) return span;
        throw new FormatException($"'{text}' is not a duration (try 500ms, 5s, 5m, 2h, 1d or 00:00:05).");
    }

    /// <summary>A duration as people write it: "5 days", "2 h 30 min", "15 s".</summary>
    public static string Describe(TimeSpan span)
    {
        if (span.TotalSeconds < 1) return $"{span.TotalMilliseconds:0} ms";
        var parts = new List<string>();
        if (span.Days > 0) parts.Add(span.Days == 1 ? "1 day" : $"{span.Days} days");
        if (span.Hours > 0) parts.Add($"{span.Hours} h");
        if (span.Minutes > 0) parts.Add($"{span.Minutes} min");
        if (span.Seconds > 0) parts.Add($"{span.Seconds} s");
        return string.Join(" ", parts);
    }
}
