using System.Text.Json;
using Boxes.Api.Auth;
using Boxes.Api.Errors;
using Boxes.Contracts;

namespace Boxes.Api.Browsers;

/// <summary>Reads and checks a POST /v1/browsers body (the SDK's launch config) into a BoxSpec.</summary>
public static class BrowserConfig
{
    private static readonly string[] Weights = ["light", "medium", "heavy"];
    private static readonly string[] Isolations = ["shared", "dedicated"];

    public static (BoxSpec? Spec, ApiError? Error) Parse(JsonElement body, Caller caller, PlanCatalog plans)
    {
        var plan = plans.For(caller.Plan);
        var weight = "light";
        var isolation = "shared";
        string? region = null;
        long? maxDuration = null;
        bool stealth = false, recording = false, captcha = false;

        foreach (var field in body.EnumerateObject())
        {
            var v = field.Value;
            switch (field.Name)
            {
                case "weight":
                    if (!TryEnum(v, Weights, out weight!)) return Invalid("weight", "one of light, medium, heavy", v);
                    break;
                case "isolation":
                    if (!TryEnum(v, Isolations, out isolation!)) return Invalid("isolation", "one of shared, dedicated", v);
                    break;
                case "region":
                    if (Fields.Region(v, out region) is { } badRegion) return (null, badRegion);
                    break;
                case "maxDurationMs":
                    if (Fields.MaxDuration(v, out maxDuration) is { } badDuration) return (null, badDuration);
                    break;
                case "stealth":
                    if (!TryBool(v, out stealth)) return Invalid("stealth", "a boolean", v);
                    break;
                case "recording":
                    if (!TryBool(v, out recording)) return Invalid("recording", "a boolean", v);
                    break;
                case "captcha":
                    if (!TryBool(v, out captcha)) return Invalid("captcha", "a boolean", v);
                    break;
                case "timeout":
                    if (Fields.SdkTimeout(v) is { } badTimeout) return (null, badTimeout);
                    break;
                case "proxy":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.Object) return Invalid("proxy", "an object {protocol, host, port, username?, password?}", v);
                    return (null, ApiError.NotImplemented("A bring-your-own proxy (proxy)"));
                case "profileKey":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.String) return Invalid("profileKey", "a string", v);
                    return (null, ApiError.NotImplemented("Saved browser profiles (profileKey)"));
                case "egressProfile":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.String) return Invalid("egressProfile", "a string", v);
                    return (null, ApiError.NotImplemented("Egress profiles (egressProfile)"));
            }
        }

        // Plan gates come before "not built", so a customer learns first what their plan allows.
        if (stealth && !plan.Stealth) return (null, ApiError.PlanFeature("stealth", plans.LowestWith(p => p.Stealth), caller.Plan));
        if (recording && !plan.Recording) return (null, ApiError.PlanFeature("recording", plans.LowestWith(p => p.Recording), caller.Plan));
        if (isolation == "dedicated" && !plan.DedicatedIsolation)
            return (null, ApiError.PlanFeature("isolation \"dedicated\"", plans.LowestWith(p => p.DedicatedIsolation), caller.Plan));
        if (Fields.OverPlanDuration(maxDuration, caller, plans) is { } overPlan) return (null, overPlan);
        if (stealth) return (null, ApiError.NotImplemented("Stealth mode (stealth)"));
        if (recording) return (null, ApiError.NotImplemented("Session recording (recording)"));
        if (captcha) return (null, ApiError.NotImplemented("CAPTCHA solving (captcha)"));

        return (new BoxSpec
        {
            Weight = weight,
            Isolation = isolation,
            Region = region,
            MaxDurationMs = maxDuration ?? plan.MaxDurationMs,
        }, null);
    }

    private static (BoxSpec?, ApiError?) Invalid(string field, string expected, JsonElement got) => (null, Fields.Invalid(field, expected, got));

    private static bool TryEnum(JsonElement v, string[] allowed, out string? value) => Fields.TryEnum(v, allowed, out value);

    private static bool TryBool(JsonElement v, out bool value) => Fields.TryBool(v, out value);
}
