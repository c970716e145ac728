using System.Buffers;
using Boxes.Artifacts.Catalog;
using Boxes.Artifacts.Storage;
using Boxes.Contracts;
using Boxes.ServiceDefaults;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace Boxes.Artifacts.Endpoints;

/// <summary>The internal artifacts surface (docs/INTERNAL.md, "Artifacts"); every route requires the internal key.</summary>
public static class ArtifactEndpoints
{
    private const string LogCategory = "Boxes.Artifacts.Endpoints";

    public static IEndpointRouteBuilder MapArtifactEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/internal/artifacts").RequireInternalKey();
        group.MapPut("/{artifactId}", UploadAsync);
        group.MapGet("/{artifactId}", GetAsync);
        group.MapGet("/{artifactId}/content", GetContentAsync);
        group.MapGet("/", ListAsync);
        return app;
    }

    /// <summary>
    /// Streams the body to the blob store (hashing and counting on the way), then records it and appends
    /// ArtifactCreated in one transaction. Idempotent by artifact id: a repeat answers 200 with what is stored.
    /// </summary>
    private static async Task<IResult> UploadAsync(
        string artifactId, HttpContext http, ArtifactCatalog catalog, IBlobStore blobs, IOptions<ArtifactsOptions> options, ILoggerFactory logs)
    {
        var logger = logs.CreateLogger(LogCategory);
        var (upload, error) = UploadValidation.Validate(artifactId, http.Request.Query);
        if (upload is null) return ArtifactErrors.Validation(error!);

        var maxBytes = options.Value.MaxBytes;
        // Kestrel's own cap (30 MB by default) would cut large artifacts short, and it counts a chunked body
        // loosely (an upload of exactly MaxBytes tripped it): this route counts every byte itself instead,
        // in the blob store and in the drain of a repeat.
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = null;
        if (http.Request.ContentLength > maxBytes) return ArtifactErrors.TooLarge(maxBytes);

        var ct = http.RequestAborted;
        try
        {
            if (await catalog.FindAsync(upload.ArtifactId, ct) is { } existing)
            {
                // A retry: the bytes are already stored. Read and drop these so the caller gets its answer cleanly.
                await DrainAsync(http.Request.Body, maxBytes, ct);
                return Repeat(existing.Artifact, upload);
            }

            await using var staged = await blobs.StageAsync(http.Request.Body, maxBytes, ct);
            var (stored, created) = await catalog.StoreAsync(upload, staged, ct);
            if (!created) return Repeat(stored.Artifact, upload);
            http.Response.Headers.Location = $"/internal/artifacts/{upload.ArtifactId}";
            return Results.Json(stored.Artifact, BoxesJson.Options, statusCode: StatusCodes.Status201Created);
        }
        catch (BlobTooLargeException)
        {
            return ArtifactErrors.TooLarge(maxBytes);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return ArtifactErrors.TooLarge(maxBytes);
        }
        catch (BadHttpRequestException ex)
        {
            // Kestrel could not read the body to its end (it was cut short or malformed): nothing was kept.
            logger.LogWarning("Upload of artifact {ArtifactId} broke off: {Reason}", upload.ArtifactId, ex.Message);
            return ArtifactErrors.Validation($"The upload broke off before the end of its body: {ex.Message}");
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException && ct.IsCancellationRequested)
        {
            // The caller went away mid-upload: nothing was kept, and nobody is left to answer.
            logger.LogInformation("Upload of artifact {ArtifactId} was abandoned by the caller", upload.ArtifactId);
            return Results.Empty;
        }
    }

    private static IResult Repeat(Artifact existing, NewArtifact upload) =>
        existing.Matches(upload)
            ? Results.Json(existing, BoxesJson.Options)
            : ArtifactErrors.Conflict($"Artifact {upload.ArtifactId} is already stored with another box, organisation, kind or content type.");

    private static async Task<IResult> GetAsync(string artifactId, ArtifactCatalog catalog, CancellationToken ct)
    {
        if (!Guid.TryParse(artifactId, out var id)) return ArtifactErrors.Validation("artifactId must be a GUID.");
        return await catalog.FindAsync(id, ct) is { } stored ? Results.Json(stored.Artifact, BoxesJson.Options) : ArtifactErrors.NotFound(id);
    }

    /// <summary>The bytes, streamed from the blob store, with their content type; ranges are honoured.</summary>
    private static async Task<IResult> GetContentAsync(string artifactId, ArtifactCatalog catalog, IBlobStore blobs, ILoggerFactory logs, CancellationToken ct)
    {
        if (!Guid.TryParse(artifactId, out var id)) return ArtifactErrors.Validation("artifactId must be a GUID.");
        if (await catalog.FindAsync(id, ct) is not { } stored) return ArtifactErrors.NotFound(id);
        if (await blobs.OpenReadAsync(stored.BlobKey, ct) is not { } content)
        {
            logs.CreateLogger(LogCategory).LogError("Artifact {ArtifactId} is recorded but its bytes are missing under {BlobKey}", id, stored.BlobKey);
            return ArtifactErrors.Error(500, "INTERNAL", $"The bytes of artifact {id} are missing; it has been logged.");
        }
        return Results.Stream(content, stored.Artifact.ContentType,
            entityTag: new EntityTagHeaderValue($"\"{stored.Artifact.Sha256}\""), enableRangeProcessing: true);
    }

    private static async Task<IResult> ListAsync(HttpContext http, ArtifactCatalog catalog)
    {
        if (UploadValidation.RequireId(http.Request.Query, "boxId", out var boxId) is { } error) return ArtifactErrors.Validation(error);
        return Results.Json(new { items = await catalog.ListByBoxAsync(boxId, http.RequestAborted) }, BoxesJson.Options);
    }

    /// <summary>Reads and drops a body, up to <paramref name="maxBytes"/>.</summary>
    private static async Task DrainAsync(Stream body, long maxBytes, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(buffer, ct)) > 0)
                if ((total += read) > maxBytes) throw new BlobTooLargeException(maxBytes);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
