using System.Text.Json;
using System.Text.RegularExpressions;
using Boxes.Api.Auth;
using Boxes.Api.Errors;
using Boxes.Contracts;

namespace Boxes.Api.Sandboxes;

/// <summary>Reads and checks a POST /v1/sandboxes body (the SDK's sandbox launch config) into a BoxSpec.</summary>
public static partial class SandboxConfig
{
    private static readonly string[] Sizes = ["standard"];
    private static readonly string[] Networks = [SandboxNetworks.None, SandboxNetworks.Internet];
    /// <summary>Capabilities of the SDK this build does not have yet: asking for one is 501, never silently ignored.</summary>
    private static readonly string[] UnbuiltCapabilities = ["opencode", "browser", "docs", "storage"];

    public const int MaxEnvEntries = 100;
    public const int MaxEnvNameLength = 256;
    public const int MaxEnvValueLength = 32 * 1024;
    public const int MaxEnvTotalLength = 256 * 1024;

    /// <summary>The spec, or the first thing wrong with the body; <c>FromCheckpoint</c> still has to be looked up by the caller.</summary>
    public static (BoxSpec? Spec, ApiError? Error) Parse(JsonElement body, Caller caller, PlanCatalog plans)
    {
        var runtime = SandboxRuntimes.Bun;
        var size = "standard";
        var ephemeral = true;
        var network = SandboxNetworks.None;
        string? region = null;
        long? maxDuration = null;
        IReadOnlyDictionary<string, string>? env = null;
        Guid? fromCheckpoint = null;
        string? unbuilt = null;

        foreach (var field in body.EnumerateObject())
        {
            var v = field.Value;
            switch (field.Name)
            {
                case "runtime":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (!Fields.TryEnum(v, SandboxRuntimes.All, out var r)) return Invalid("runtime", "one of bun, python, base", v);
                    runtime = r!;
                    break;
                case "size":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (!Fields.TryEnum(v, Sizes, out var s)) return Invalid("size", "\"standard\" (the only sandbox size)", v);
                    size = s!;
                    break;
                case "env":
                    if (ReadEnv("env", v, out env) is { } badEnv) return (null, badEnv);
                    break;
                case "ephemeral":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (!Fields.TryBool(v, out ephemeral)) return Invalid("ephemeral", "a boolean", v);
                    break;
                case "region":
                    if (Fields.Region(v, out region) is { } badRegion) return (null, badRegion);
                    break;
                case "maxDurationMs":
                    if (Fields.MaxDuration(v, out maxDuration) is { } badDuration) return (null, badDuration);
                    break;
                case "timeout":
                    if (Fields.SdkTimeout(v) is { } badTimeout) return (null, badTimeout);
                    break;
                case "capabilities":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.Object) return Invalid("capabilities", "an object such as {\"network\": \"internet\"}", v);
                    foreach (var capability in v.EnumerateObject())
                    {
                        var c = capability.Value;
                        if (capability.Name == "network")
                        {
                            if (c.ValueKind == JsonValueKind.Null) continue;
                            if (!Fields.TryEnum(c, Networks, out var n)) return Invalid("capabilities.network", "one of none, internet", c);
                            network = n!;
                        }
                        else if (UnbuiltCapabilities.Contains(capability.Name))
                        {
                            var (enabled, badCapability) = Enabled("capabilities." + capability.Name, c);
                            if (badCapability is not null) return (null, badCapability);
                            if (enabled) unbuilt ??= capability.Name;
                        }
                        // Other names are ignored, as unknown top-level fields are: the SDK may grow new ones.
                    }
                    break;
                case "fromCheckpoint":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.String) return Invalid("fromCheckpoint", "the key of a checkpoint artifact", v);
                    // A key that is not one we could have issued is as unknown as someone else's: 404, revealing nothing.
                    if (!Guid.TryParse(v.GetString(), out var checkpoint))
                        return (null, ApiError.NotFound($"fromCheckpoint: the checkpoint {Fields.Shorten(v.GetString()!)}"));
                    fromCheckpoint = checkpoint;
                    break;
            }
        }

        // As for browsers: plan limits first, then what is not built, so a customer learns first what their plan allows.
        if (Fields.OverPlanDuration(maxDuration, caller, plans) is { } overPlan) return (null, overPlan);
        if (unbuilt is not null) return (null, ApiError.NotImplemented($"The sandbox capability capabilities.{unbuilt}"));

        return (new BoxSpec
        {
            Runtime = runtime,
            Size = size,
            Env = env,
            Ephemeral = ephemeral,
            Network = network,
            Region = region,
            FromCheckpoint = fromCheckpoint,
            MaxDurationMs = maxDuration ?? plans.For(caller.Plan).MaxDurationMs,
        }, null);
    }

    /// <summary>
    /// An environment object (the sandbox's <c>env</c>, an exec's <c>env</c>): string to string, names as a shell
    /// accepts them, no NUL (it cannot cross execve), and sizes a process environment can carry.
    /// </summary>
    public static ApiError? ReadEnv(string field, JsonElement v, out IReadOnlyDictionary<string, string>? env)
    {
        env = null;
        if (v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Object) return Fields.Invalid(field, "an object of string values, e.g. {\"NODE_ENV\": \"production\"}", v);
        var read = new Dictionary<string, string>(StringComparer.Ordinal);
        var total = 0;
        foreach (var entry in v.EnumerateObject())
        {
            if (read.Count == MaxEnvEntries) return ApiError.Validation($"{field}: at most {MaxEnvEntries} variables.");
            if (entry.Name.Length > MaxEnvNameLength || !EnvName().IsMatch(entry.Name))
                return ApiError.Validation($"{field}: \"{Fields.Shorten(entry.Name)}\" is not a valid environment variable name (letters, digits and _, not starting with a digit).");
            if (entry.Value.ValueKind != JsonValueKind.String)
                return Fields.Invalid($"{field}.{entry.Name}", "a string", entry.Value);
            var value = entry.Value.GetString()!;
            if (value.Length > MaxEnvValueLength) return ApiError.Validation($"{field}.{entry.Name}: longer than {MaxEnvValueLength} characters.");
            if (value.Contains('\0')) return ApiError.Validation($"{field}.{entry.Name}: contains a NUL character.");
            total += entry.Name.Length + value.Length;
            if (total > MaxEnvTotalLength) return ApiError.Validation($"{field}: larger than {MaxEnvTotalLength} characters in all.");
            read[entry.Name] = value;
        }
        env = read;
        return null;
    }

    /// <summary>A capability is on when given as <c>true</c> or as an object that does not say <c>"enabled": false</c>.</summary>
    private static (bool Enabled, ApiError? Error) Enabled(string field, JsonElement c)
    {
        switch (c.ValueKind)
        {
            case JsonValueKind.Null or JsonValueKind.False: return (false, null);
            case JsonValueKind.True: return (true, null);
            case JsonValueKind.Object:
                if (!c.TryGetProperty("enabled", out var enabled)) return (true, null);
                if (!Fields.TryBool(enabled, out var on)) return (false, Fields.Invalid(field + ".enabled", "a boolean", enabled));
                return (on || enabled.ValueKind == JsonValueKind.Null, null);
            default:
                return (false, Fields.Invalid(field, "an object or a boolean", c));
        }
    }

    private static (BoxSpec?, ApiError?) Invalid(string field, string expected, JsonElement got) => (null, Fields.Invalid(field, expected, got));

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]*$")]
    private static partial Regex EnvName();
}
