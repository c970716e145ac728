using System.Text.Json;
using Boxes.Contracts;

namespace Boxes.Api.Errors;

/// <summary>An error in the contract's shape: <c>{"error": {"code", "message", "requiredPlan"?, "currentPlan"?}}</c>.</summary>
public sealed class ApiError(int status, string code, string message, string? requiredPlan = null, string? currentPlan = null) : IResult
{
    public int Status => status;
    public string Code => code;
    public string Message => message;
    public int? RetryAfterSeconds { get; init; }

    public async Task ExecuteAsync(HttpContext http)
    {
        http.Response.StatusCode = status;
        if (RetryAfterSeconds is { } seconds) http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var error = new Dictionary<string, string> { ["code"] = code, ["message"] = message };
        if (requiredPlan is not null) error["requiredPlan"] = requiredPlan;
        if (currentPlan is not null) error["currentPlan"] = currentPlan;
        await http.Response.WriteAsJsonAsync(new { error }, BoxesJson.Options);
    }

    public static ApiError Unauthenticated(string message = "A valid API key is required: Authorization: Bearer br_live_...") => new(401, "UNAUTHENTICATED", message);
    public static ApiError PermissionDenied(string message) => new(403, "PERMISSION_DENIED", message);
    public static ApiError Validation(string message) => new(400, "VALIDATION_FAILED", message);
    public static ApiError NotFound(string what) => new(404, "NOT_FOUND", $"{what} was not found.");
    public static ApiError Conflict(string message) => new(409, "CONFLICT", message);
    /// <summary>A worker or internal service the request needs did not answer (or not in time).</summary>
    public static ApiError UpstreamUnavailable(string message) => new(502, "UPSTREAM_UNAVAILABLE", message);
    public static ApiError NotImplemented(string feature) =>
        new(501, "NOT_IMPLEMENTED", $"{feature} is not available in this build of Boxes yet; see the README's list of what is not built.");
    public static ApiError PlanFeature(string feature, string requiredPlan, string currentPlan) =>
        new(403, "PLAN_FEATURE_UNAVAILABLE", $"{feature} requires the {requiredPlan} plan or higher; this organisation is on {currentPlan}.", requiredPlan, currentPlan);
    public static ApiError PlanLimit(string message, string? requiredPlan, string currentPlan) =>
        new(403, "PLAN_LIMIT_EXCEEDED", message, requiredPlan, currentPlan);
}

/// <summary>Turns every failure into the contract's error shape: unknown routes, oversized or unreadable bodies, and crashes.</summary>
public static class ApiErrorHandling
{
    public static IApplicationBuilder UseApiErrors(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        try
        {
            await next(http);
            if (http.Response.StatusCode == 404 && !http.Response.HasStarted && http.GetEndpoint() is null)
                await ApiError.NotFound($"The route {http.Request.Method} {http.Request.Path}").ExecuteAsync(http);
            else if (http.Response.StatusCode == 405 && !http.Response.HasStarted)
                await new ApiError(405, "METHOD_NOT_ALLOWED", $"{http.Request.Method} is not allowed on {http.Request.Path}.").ExecuteAsync(http);
        }
        catch (BadHttpRequestException ex) when (!http.Response.HasStarted)
        {
            var tooLarge = ex.StatusCode == StatusCodes.Status413PayloadTooLarge;
            // The limit is Kestrel's for this request: the server-wide one, or a route's own (fs/write raises it).
            var limit = http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize;
            await new ApiError(tooLarge ? 413 : 400, "VALIDATION_FAILED",
                tooLarge ? $"The request body is larger than this route's limit{(limit is { } l ? $" of {l} bytes" : "")}." : $"The request could not be read: {ex.Message}").ExecuteAsync(http);
        }
        catch (Exception ex) when (!http.Response.HasStarted && ex is not OperationCanceledException)
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Boxes.Api").LogError(ex, "Unhandled error on {Method} {Path}", http.Request.Method, http.Request.Path);
            await new ApiError(500, "INTERNAL", "Something went wrong on our side; it has been logged.").ExecuteAsync(http);
        }
    });
}

/// <summary>Reads a JSON object body, so that a field-level message can name what is wrong.</summary>
public static class JsonBody
{
    public const int MaxBytes = 1024 * 1024;

    public static async Task<(JsonElement Body, ApiError? Error)> ReadObjectAsync(HttpRequest request, CancellationToken ct)
    {
        if (request.ContentLength > MaxBytes) return (default, new ApiError(413, "VALIDATION_FAILED", "The request body is larger than the 1 MiB limit."));
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxBytes) return (default, new ApiError(413, "VALIDATION_FAILED", "The request body is larger than the 1 MiB limit."));
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0) return (JsonDocument.Parse("{}").RootElement.Clone(), null);
        try
        {
            using var doc = JsonDocument.Parse(buffer.ToArray());
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                return (default, ApiError.Validation($"The body must be a JSON object, not {Describe(doc.RootElement.ValueKind)}."));
            return (doc.RootElement.Clone(), null);
        }
        catch (JsonException ex)
        {
            return (default, ApiError.Validation($"The body is not valid JSON: {ex.Message}"));
        }
    }

    public static string Describe(JsonValueKind kind) => kind switch
    {
        JsonValueKind.Array => "an array",
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        JsonValueKind.Null => "null",
        _ => kind.ToString().ToLowerInvariant(),
    };
}
