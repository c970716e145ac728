using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Boxes.Clients;

/// <summary>A stored artifact, as the artifacts service answers it.</summary>
public sealed record ArtifactRecord(
    Guid ArtifactId, Guid BoxId, Guid OrganizationId, string Kind, string ContentType, long SizeBytes, string Sha256, DateTimeOffset CreatedAt);

/// <summary>
/// The artifacts service's internal surface (docs/INTERNAL.md, "Artifacts"). Register it with
/// <see cref="ArtifactsClientRegistration.AddArtifactsClient"/>, which sets the address and the internal key.
/// A non-success answer throws <see cref="ArtifactsException"/> carrying the service's error code and message.
/// </summary>
public sealed class ArtifactsClient(HttpClient http)
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>
    /// Streams <paramref name="content"/> to the service (never buffered: a seekable stream is sent with its
    /// length, any other chunked); it is read to its end and left open for the caller to dispose.
    /// Idempotent by <paramref name="artifactId"/>: a retry answers the stored record (a different box,
    /// organisation, kind or content type under the same id is a 409 CONFLICT).
    /// </summary>
    public async Task<ArtifactRecord> UploadAsync(
        Guid artifactId, Guid boxId, Guid organizationId, string kind, string contentType, Stream content, CancellationToken ct)
    {
        var url = $"internal/artifacts/{artifactId}?boxId={boxId}&organizationId={organizationId}" +
                  $"&kind={Uri.EscapeDataString(kind)}&contentType={Uri.EscapeDataString(contentType)}";
        // Not disposed: that would dispose the caller's stream with the content. The caller owns the stream.
        var request = new HttpRequestMessage(HttpMethod.Put, url) { Content = new StreamContent(content, 128 * 1024) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        // The service checks the key, the parameters and a declared length before it reads the body: with
        // 100-continue a refusal costs no upload of bytes that would be thrown away.
        request.Headers.ExpectContinue = true;
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        await EnsureSuccessAsync(response, $"upload artifact {artifactId}", ct);
        return await ReadAsync<ArtifactRecord>(response, ct);
    }

    /// <summary>The record, or null when no artifact has this id.</summary>
    public async Task<ArtifactRecord?> GetAsync(Guid artifactId, CancellationToken ct)
    {
        using var response = await http.GetAsync($"internal/artifacts/{artifactId}", HttpCompletionOption.ResponseHeadersRead, ct);
        if (response.StatusCode == HttpStatusCode.NotFound) return null;
        await EnsureSuccessAsync(response, $"read artifact {artifactId}", ct);
        return await ReadAsync<ArtifactRecord>(response, ct);
    }

    /// <summary>
    /// The bytes as a response whose headers have arrived and whose body is not read yet (stream it with
    /// <c>Content.ReadAsStreamAsync</c>; the content type is the artifact's). Null when no artifact has this id.
    /// The caller disposes the response.
    /// </summary>
    public async Task<HttpResponseMessage?> OpenContentAsync(Guid artifactId, CancellationToken ct)
    {
        var response = await http.GetAsync($"internal/artifacts/{artifactId}/content", HttpCompletionOption.ResponseHeadersRead, ct);
        try
        {
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                response.Dispose();
                return null;
            }
            await EnsureSuccessAsync(response, $"read the content of artifact {artifactId}", ct);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>The box's artifacts, oldest first.</summary>
    public async Task<IReadOnlyList<ArtifactRecord>> ListAsync(Guid boxId, CancellationToken ct)
    {
        using var response = await http.GetAsync($"internal/artifacts?boxId={boxId}", HttpCompletionOption.ResponseHeadersRead, ct);
        await EnsureSuccessAsync(response, $"list the artifacts of box {boxId}", ct);
        return (await ReadAsync<ArtifactList>(response, ct)).Items ?? [];
    }

    private sealed record ArtifactList(IReadOnlyList<ArtifactRecord>? Items);

    private static async Task<T> ReadAsync<T>(HttpResponseMessage response, CancellationToken ct) =>
        await response.Content.ReadFromJsonAsync<T>(Json, ct)
        ?? throw new ArtifactsException(response.StatusCode, "INVALID_RESPONSE", "The artifacts service answered an empty body.");

    private static async Task EnsureSuccessAsync(HttpResponseMessage response, string what, CancellationToken ct)
    {
        if (response.IsSuccessStatusCode) return;
        var body = await response.Content.ReadAsStringAsync(ct);
        var (code, message) = ParseError(body);
        throw new ArtifactsException(response.StatusCode, code,
            $"Could not {what}: the artifacts service answered {(int)response.StatusCode} {code}: {message}");
    }

    /// <summary>The service's <c>{"error": {"code", "message"}}</c>, or the start of whatever else came back (a proxy's page).</summary>
    private static (string Code, string Message) ParseError(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("error", out var error)
                && error.ValueKind == JsonValueKind.Object)
            {
                var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "UNKNOWN";
                var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : body;
                return (code, message);
            }
        }
        catch (JsonException)
        {
        }
        return ("UNKNOWN", body.Length == 0 ? "(no body)" : body.Length <= 500 ? body : body[..500] + "...");
    }
}

/// <summary>A non-success answer of the artifacts service: its status, its error code and its message.</summary>
public sealed class ArtifactsException(HttpStatusCode status, string code, string message)
    : HttpRequestException(message, inner: null, statusCode: status)
{
    /// <summary>The service's error code, e.g. <c>VALIDATION_FAILED</c> (400, or 413 over the size limit), <c>UNAUTHENTICATED</c>, <c>CONFLICT</c>.</summary>
    public string Code => code;
}
