using Boxes.Contracts;

namespace Boxes.Artifacts.Endpoints;

/// <summary>Errors in the public <c>/v1</c> shape, <c>{"error": {"code", "message"}}</c>, so the API can pass them through unchanged.</summary>
public static class ArtifactErrors
{
    public static IResult Error(int status, string code, string message) =>
        Results.Json(new { error = new { code, message } }, BoxesJson.Options, statusCode: status);

    public static IResult Validation(string message) => Error(400, "VALIDATION_FAILED", message);
    public static IResult NotFound(Guid artifactId) => Error(404, "NOT_FOUND", $"Artifact {artifactId} was not found.");
    public static IResult TooLarge(long maxBytes) => Error(413, "PAYLOAD_TOO_LARGE", $"The artifact is larger than the {maxBytes} bytes limit (Artifacts:MaxBytes).");
    public static IResult Conflict(string message) => Error(409, "CONFLICT", message);
}
