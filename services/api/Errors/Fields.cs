using System.Text.Json;
using Boxes.Api.Auth;

namespace Boxes.Api.Errors;

/// <summary>Reading single JSON fields of a request body, with VALIDATION_FAILED messages that name the field.</summary>
public static class Fields
{
    public static ApiError Invalid(string field, string expected, JsonElement got) =>
        ApiError.Validation($"{field}: expected {expected}, got {Shorten(got.GetRawText())}.");

    public static string Shorten(string raw) => raw.Length > 60 ? raw[..60] + "…" : raw;

    /// <summary>A string that is one of <paramref name="allowed"/> (null is not one).</summary>
    public static bool TryEnum(JsonElement v, IReadOnlyCollection<string> allowed, out string? value)
    {
        value = v.ValueKind == JsonValueKind.String && allowed.Contains(v.GetString()) ? v.GetString() : null;
        return value is not null;
    }

    /// <summary>A boolean, or null meaning the default (false here; callers with another default check for null first).</summary>
    public static bool TryBool(JsonElement v, out bool value)
    {
        value = v.ValueKind == JsonValueKind.True;
        return v.ValueKind is JsonValueKind.True or JsonValueKind.False or JsonValueKind.Null;
    }

    /// <summary>A string of 1 to 32 characters, or null.</summary>
    public static ApiError? Region(JsonElement v, out string? region)
    {
        region = null;
        if (v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.String || v.GetString()!.Length is 0 or > 32) return Invalid("region", "a region code such as \"iad\"", v);
        region = v.GetString();
        return null;
    }

    /// <summary><c>maxDurationMs</c>: a whole number of at least 1000, or null for the plan's own limit.</summary>
    public static ApiError? MaxDuration(JsonElement v, out long? maxDurationMs)
    {
        maxDurationMs = null;
        if (v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var ms)) return Invalid("maxDurationMs", "a whole number of milliseconds", v);
        if (ms < 1000) return ApiError.Validation($"maxDurationMs: must be at least 1000 (got {ms}).");
        maxDurationMs = ms;
        return null;
    }

    /// <summary>PLAN_LIMIT_EXCEEDED when the asked duration is over the caller's plan.</summary>
    public static ApiError? OverPlanDuration(long? maxDurationMs, Caller caller, PlanCatalog plans) =>
        maxDurationMs > plans.For(caller.Plan).MaxDurationMs
            ? ApiError.PlanLimit($"maxDurationMs {maxDurationMs} exceeds the {caller.Plan} plan's limit of {plans.For(caller.Plan).MaxDurationMs}.",
                plans.LowestAllowing(maxDurationMs.Value), caller.Plan)
            : null;

    /// <summary><c>timeout</c>: the SDK's own wait for ready; the server has nothing to do with it but check its type.</summary>
    public static ApiError? SdkTimeout(JsonElement v) =>
        v.ValueKind is JsonValueKind.Number or JsonValueKind.Null ? null : Invalid("timeout", "a number of milliseconds", v);
}
