namespace Boxes.Sdk;

/// <summary>One kind of box's usage in a period.</summary>
public sealed record KindUsage
{
    /// <summary>Boxes that ran.</summary>
    public int Sessions { get; init; }
    /// <summary>Hours they ran.</summary>
    public decimal Hours { get; init; }
    /// <summary>vCPU-seconds metered.</summary>
    public decimal VcpuSeconds { get; init; }
}

/// <summary>Usage split by kind.</summary>
public sealed record UsageByKind
{
    /// <summary>Browser sessions.</summary>
    public KindUsage Browser { get; init; } = new();
    /// <summary>Sandboxes.</summary>
    public KindUsage Sandbox { get; init; } = new();
}

/// <summary>A period of time.</summary>
public sealed record UsagePeriod
{
    /// <summary>Start (inclusive).</summary>
    public DateTimeOffset From { get; init; }
    /// <summary>End (exclusive).</summary>
    public DateTimeOffset To { get; init; }
}

/// <summary>Usage in a period (default: this calendar month, UTC).</summary>
public sealed record Usage
{
    /// <summary>Boxes that ran.</summary>
    public int TotalSessions { get; init; }
    /// <summary>Browser hours.</summary>
    public decimal TotalBrowserHours { get; init; }
    /// <summary>vCPU-seconds, both kinds.</summary>
    public decimal TotalVcpuSeconds { get; init; }
    /// <summary>Per kind.</summary>
    public UsageByKind ByKind { get; init; } = new();
    /// <summary>The period.</summary>
    public UsagePeriod Period { get; init; } = new();
}

/// <summary>A billing period.</summary>
public sealed record BillingPeriod
{
    /// <summary>Start.</summary>
    public DateTimeOffset Start { get; init; }
    /// <summary>End.</summary>
    public DateTimeOffset End { get; init; }
}

/// <summary>The features a plan includes.</summary>
public sealed record PlanFeatures
{
    /// <summary>Stealth browsers.</summary>
    public bool Stealth { get; init; }
    /// <summary>Recording.</summary>
    public bool Recording { get; init; }
    /// <summary>Dedicated isolation.</summary>
    public bool DedicatedIsolation { get; init; }
}

/// <summary>A plan's limits.</summary>
public sealed record PlanLimits
{
    /// <summary>Boxes at once, browsers and sandboxes together.</summary>
    public int ConcurrentBoxes { get; init; }
    /// <summary>The longest a box may live.</summary>
    public long MaxDurationMs { get; init; }
    /// <summary>vCPU-hours a month; null when unlimited.</summary>
    public decimal? MonthlyVcpuHours { get; init; }
    /// <summary>Features.</summary>
    public PlanFeatures Features { get; init; } = new();
}

/// <summary>Usage this billing period.</summary>
public sealed record BillingUsage
{
    /// <summary>vCPU-hours used.</summary>
    public decimal VcpuHours { get; init; }
    /// <summary>Boxes not yet ended.</summary>
    public int ActiveBoxes { get; init; }
}

/// <summary>The organisation's plan, period, limits and usage.</summary>
public sealed record BillingInfo
{
    /// <summary><c>free</c>, <c>builder</c>, <c>pro</c> or <c>enterprise</c>.</summary>
    public string Plan { get; init; } = "";
    /// <summary>The current period.</summary>
    public BillingPeriod CurrentPeriod { get; init; } = new();
    /// <summary>The plan's limits.</summary>
    public PlanLimits Limits { get; init; } = new();
    /// <summary>Usage this period.</summary>
    public BillingUsage? Usage { get; init; }
}

/// <summary>A plan upgrade to pay for.</summary>
public sealed record CheckoutRequest
{
    /// <summary>The plan to buy.</summary>
    public string Plan { get; init; } = "";
    /// <summary>Where the payment page returns to.</summary>
    public string SuccessUrl { get; init; } = "";
}

/// <summary>A payment page.</summary>
public sealed record CheckoutSession
{
    /// <summary>Send the user here.</summary>
    public string CheckoutUrl { get; init; } = "";
}

/// <summary>One metered piece of running time from the usage feed.</summary>
public sealed record UsageRecord
{
    /// <summary>The record's stable id.</summary>
    public string Id { get; init; } = "";
    /// <summary>The organisation.</summary>
    public string OrganizationId { get; init; } = "";
    /// <summary>The box.</summary>
    public string BoxId { get; init; } = "";
    /// <summary><c>browser</c> or <c>sandbox</c>.</summary>
    public string Kind { get; init; } = "";
    /// <summary>A browser's weight.</summary>
    public string? Weight { get; init; }
    /// <summary>A sandbox's size.</summary>
    public string? Size { get; init; }
    /// <summary>Start of the piece.</summary>
    public DateTimeOffset Start { get; init; }
    /// <summary>End of the piece.</summary>
    public DateTimeOffset End { get; init; }
    /// <summary>vCPUs it was metered at.</summary>
    public decimal Vcpus { get; init; }
    /// <summary>vCPU-seconds.</summary>
    public decimal VcpuSeconds { get; init; }
}

/// <summary>A page of the usage feed.</summary>
public sealed record UsageExportPage
{
    /// <summary>The page exactly as the API sent it (NDJSON or CSV).</summary>
    public string Body { get; init; } = "";
    /// <summary>Its content type.</summary>
    public string ContentType { get; init; } = "";
    /// <summary>Pass back as <c>after</c> to read on (the <c>X-Next-Cursor</c> header); null if the API sent none.</summary>
    public string? NextCursor { get; init; }
    /// <summary>The records, parsed for NDJSON; empty for CSV.</summary>
    public IReadOnlyList<UsageRecord> Records { get; init; } = [];
}
