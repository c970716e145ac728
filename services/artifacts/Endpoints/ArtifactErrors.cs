using Boxes.Contracts;

namespace Boxes.Artifacts.Endpoints;

/// <summary>Errors in the public <c>/v1</c> shape, <c>{"error": {"code", "message"}}</c>, so the API can pass them through unchanged.</summary>
public static class ArtifactErrors
{
    public static IResult Error(int status, string code, string message) =>
        Results.Json(new { error = new { code, message } }, BoxesJson.Options, statusCode: status);

    public static IResult Validation(string message) => Error(400, "VALIDATION_FAILED", message);
    public static IResult NotFound(Guid artifactId) => Error(404, "NOT_FOUND", $"Artifact {artifactId} was not found.");
    /// <summary>413 with the contract's code for bad input, as the API answers an oversized body (API.md has no code of its own for it).</summary>
    public static IResult TooLarge(long maxBytes) => Error(413, "VALIDATION_FAILED", $"The artifact is larger than the {maxBytes} bytes limit (Artifacts:MaxBytes).");
    public static IResult Conflict(string message) => Error(409, "CONFLICT", message);
}

/// <summary>Unknown routes and crashes answer in the error shape too, never with an empty body or an HTML page.</summary>
public static class ArtifactErrorHandling
{
    public static IApplicationBuilder UseArtifactErrors(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        try
        {
            await next(http);
            if (http.Response.StatusCode == 404 && !http.Response.HasStarted && http.GetEndpoint() is null)
                await ArtifactErrors.Error(404, "NOT_FOUND", $"The route {http.Request.Method} {http.Request.Path} was not found.").ExecuteAsync(http);
        }
        catch (Exception ex) when (!http.Response.HasStarted && !http.RequestAborted.IsCancellationRequested)
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Boxes.Artifacts")
                .LogError(ex, "Unhandled error on {Method} {Path}", http.Request.Method, http.Request.Path);
            await ArtifactErrors.Error(500, "INTERNAL", "Something went wrong in the artifacts service; it has been logged.").ExecuteAsync(http);
        }
    });
}
