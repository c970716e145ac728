using System.Net.Http.Headers;
using Boxes.Api.Errors;
using Boxes.Clients;

namespace Boxes.Api.Artifacts;

/// <summary>
/// <c>GET /v1/artifacts/{key}/content?org=&amp;expires=&amp;sig=</c>: the bytes behind a signed download link
/// (<see cref="ArtifactLinks"/>). No API key: the signature is the credential, and a tampered, expired or
/// other-artifact link is refused with 401 before anything is looked up.
/// </summary>
public static class ArtifactContentEndpoint
{
    public static IEndpointRouteBuilder MapArtifactContent(this IEndpointRouteBuilder app)
    {
        app.MapGet("/v1/artifacts/{key}/content", async Task<IResult> (string key, HttpContext http, ArtifactLinks links, ArtifactsClient artifacts,
            ILoggerFactory loggers, CancellationToken ct) =>
        {
            var query = http.Request.Query;
            if (!Guid.TryParse(key, out var artifactId))
                return ApiError.Unauthenticated("This download link is not valid: request a fresh one with GET /v1/sandboxes/{id}/artifacts/{key}/download-url.");
            var (verdict, organizationId) = links.Verify(artifactId, query["org"], query["expires"], query["sig"]);
            if (verdict != ArtifactLinks.Verdict.Valid)
                return ApiError.Unauthenticated(verdict == ArtifactLinks.Verdict.Expired
                    ? "This download link has expired: request a fresh one with GET /v1/sandboxes/{id}/artifacts/{key}/download-url."
                    : "This download link is not valid: use the url the API returned, as it is.");

            try
            {
                // The signature binds the organisation; the record must agree, so a link can only ever open its owner's artifact.
                var record = await artifacts.GetAsync(artifactId, ct);
                if (record is null || record.OrganizationId != organizationId) return ApiError.NotFound($"Artifact {key}");
                var content = await artifacts.OpenContentAsync(artifactId, ct);
                if (content is null) return ApiError.NotFound($"Artifact {key}");
                return new Download(content, $"{artifactId}{Extension(record)}");
            }
            catch (HttpRequestException ex)
            {
                loggers.CreateLogger("Boxes.Api.Artifacts").LogWarning("Artifact {ArtifactId} could not be read from the artifacts service: {Error}", artifactId, ex.Message);
                return ApiError.UpstreamUnavailable("The artifact store did not answer; try again shortly.");
            }
        });
        return app;
    }

    private static string Extension(ArtifactRecord record) => record.ContentType switch
    {
        "application/gzip" or "application/x-gzip" or "application/x-tar+gzip" => ".tar.gz",
        "image/png" => ".png",
        "image/jpeg" => ".jpg",
        "video/mp4" => ".mp4",
        "video/webm" => ".webm",
        "text/plain" => ".txt",
        "application/json" => ".json",
        _ => "",
    };

    /// <summary>Streams the bytes as an attachment that a browser will neither render nor sniff.</summary>
    private sealed class Download(HttpResponseMessage response, string fileName) : IResult
    {
        public async Task ExecuteAsync(HttpContext http)
        {
            using (response)
            {
                var headers = response.Content.Headers;
                http.Response.StatusCode = StatusCodes.Status200OK;
                http.Response.ContentType = headers.ContentType?.ToString() ?? "application/octet-stream";
                if (headers.ContentLength is { } length) http.Response.ContentLength = length;
                http.Response.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileName = fileName }.ToString();
                http.Response.Headers.XContentTypeOptions = "nosniff";
                http.Response.Headers.CacheControl = "private, no-store";
                await using var body = await response.Content.ReadAsStreamAsync(http.RequestAborted);
                await body.CopyToAsync(http.Response.Body, http.RequestAborted);
            }
        }
    }
}
