using System.Text.Json;
using System.Text.Json.Nodes;
using Boxes.Api.Errors;

namespace Boxes.Api.Sandboxes;

/// <summary>
/// Checks exec, run-code and file requests at the edge, before anything reaches a worker, and rebuilds the
/// bodies from the fields it checked (so the worker only ever sees what its contract names).
/// </summary>
public static class DataPlaneRequests
{
    public const int DefaultTimeoutMs = 60_000;
    public const int MaxTimeoutMs = 3_600_000;
    public const int MaxPathLength = 4096;
    public const int MaxArgs = 4096;
    public const string DefaultListPath = "/workspace";

    /// <summary>A checked request: the body to forward and how long the worker may take to answer it.</summary>
    public sealed record Checked(JsonObject Body, int TimeoutMs);

    /// <summary><c>{command, args?, cwd?, env?, stdin?, timeoutMs?}</c>.</summary>
    public static (Checked? Request, ApiError? Error) Exec(JsonElement body)
    {
        var forward = new JsonObject();
        var timeoutMs = DefaultTimeoutMs;
        var hasCommand = false;
        foreach (var field in body.EnumerateObject())
        {
            var v = field.Value;
            switch (field.Name)
            {
                case "command":
                    if (v.ValueKind != JsonValueKind.String || v.GetString()!.Length == 0) return Bad(Fields.Invalid("command", "a non-empty string", v));
                    if (v.GetString()!.Contains('\0')) return Bad(ApiError.Validation("command: contains a NUL character."));
                    forward["command"] = v.GetString();
                    hasCommand = true;
                    break;
                case "args":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.Array) return Bad(Fields.Invalid("args", "an array of strings", v));
                    if (v.GetArrayLength() > MaxArgs) return Bad(ApiError.Validation($"args: at most {MaxArgs} arguments."));
                    var args = new JsonArray();
                    var i = 0;
                    foreach (var a in v.EnumerateArray())
                    {
                        if (a.ValueKind != JsonValueKind.String) return Bad(Fields.Invalid($"args[{i}]", "a string", a));
                        if (a.GetString()!.Contains('\0')) return Bad(ApiError.Validation($"args[{i}]: contains a NUL character."));
                        args.Add(a.GetString());
                        i++;
                    }
                    forward["args"] = args;
                    break;
                case "cwd":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.String) return Bad(Fields.Invalid("cwd", "a path string", v));
                    if (CheckPath("cwd", v.GetString()) is { } badCwd) return Bad(badCwd);
                    forward["cwd"] = v.GetString();
                    break;
                case "env":
                    if (SandboxConfig.ReadEnv("env", v, out var env) is { } badEnv) return Bad(badEnv);
                    if (env is not null) forward["env"] = new JsonObject(env.Select(e => KeyValuePair.Create(e.Key, (JsonNode?)JsonValue.Create(e.Value))));
                    break;
                case "stdin":
                    if (v.ValueKind == JsonValueKind.Null) break;
                    if (v.ValueKind != JsonValueKind.String) return Bad(Fields.Invalid("stdin", "a string", v));
                    forward["stdin"] = v.GetString();
                    break;
                case "timeoutMs":
                    if (Timeout(v, out var t) is { } badTimeout) return Bad(badTimeout);
                    if (t is { } ms) { timeoutMs = ms; forward["timeoutMs"] = ms; }
                    break;
            }
        }
        if (!hasCommand) return Bad(ApiError.Validation("command: required, a non-empty string."));
        return (new Checked(forward, timeoutMs), null);
    }

    /// <summary><c>{code, timeoutMs?}</c>.</summary>
    public static (Checked? Request, ApiError? Error) RunCode(JsonElement body)
    {
        var forward = new JsonObject();
        var timeoutMs = DefaultTimeoutMs;
        foreach (var field in body.EnumerateObject())
        {
            var v = field.Value;
            switch (field.Name)
            {
                case "code":
                    if (v.ValueKind != JsonValueKind.String) return Bad(Fields.Invalid("code", "a string of source code", v));
                    forward["code"] = v.GetString();
                    break;
                case "timeoutMs":
                    if (Timeout(v, out var t) is { } badTimeout) return Bad(badTimeout);
                    if (t is { } ms) { timeoutMs = ms; forward["timeoutMs"] = ms; }
                    break;
            }
        }
        if (!forward.ContainsKey("code")) return Bad(ApiError.Validation("code: required, a string of source code."));
        return (new Checked(forward, timeoutMs), null);
    }

    /// <summary>
    /// A path as the edge can judge it: present, bounded, no NUL. Confinement to /workspace (and what symlinks point
    /// at) can only be judged inside the sandbox, so the worker enforces it.
    /// </summary>
    public static ApiError? CheckPath(string field, string? path)
    {
        if (string.IsNullOrEmpty(path)) return ApiError.Validation($"{field}: required, a path such as /workspace/app.ts.");
        if (path.Length > MaxPathLength) return ApiError.Validation($"{field}: longer than {MaxPathLength} characters.");
        if (path.Contains('\0')) return ApiError.Validation($"{field}: contains a NUL character.");
        return null;
    }

    private static ApiError? Timeout(JsonElement v, out int? timeoutMs)
    {
        timeoutMs = null;
        if (v.ValueKind == JsonValueKind.Null) return null;
        if (v.ValueKind != JsonValueKind.Number || !v.TryGetInt64(out var ms) || ms < 1 || ms > MaxTimeoutMs)
            return Fields.Invalid("timeoutMs", $"a whole number of milliseconds from 1 to {MaxTimeoutMs}", v);
        timeoutMs = (int)ms;
        return null;
    }

    private static (Checked?, ApiError?) Bad(ApiError error) => (null, error);
}
