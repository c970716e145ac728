using System.Collections.Concurrent;
using System.Security.Cryptography;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Boxes.Api.Tests;

/// <summary>
/// Stands in for services/artifacts' internal surface (docs/INTERNAL.md): records and bytes in memory. Every
/// request must carry the internal key; one that does not is refused and counted, and tests assert none came.
/// </summary>
public sealed class FakeArtifacts : IAsyncDisposable
{
    public sealed record Stored(Guid ArtifactId, Guid BoxId, Guid OrganizationId, string Kind, string ContentType, long SizeBytes, string Sha256,
        DateTimeOffset CreatedAt);

    private LoopbackServer _server = null!;
    private readonly ConcurrentDictionary<Guid, (Stored Record, byte[] Bytes)> _artifacts = new();
    private int _withoutKey;
    private int _requests;

    private FakeArtifacts() { }

    public string Address => _server.Address;
    /// <summary>Requests that came without the internal key (must stay 0).</summary>
    public int RequestsWithoutKey => Volatile.Read(ref _withoutKey);
    /// <summary>Every request that reached this server.</summary>
    public int Requests => Volatile.Read(ref _requests);

    public Stored Add(Guid boxId, Guid organizationId, string kind, string contentType, byte[] bytes, Guid? artifactId = null)
    {
        var record = new Stored(artifactId ?? Guid.CreateVersion7(), boxId, organizationId, kind, contentType, bytes.Length,
            Convert.ToHexStringLower(SHA256.HashData(bytes)), DateTimeOffset.UtcNow);
        _artifacts[record.ArtifactId] = (record, bytes);
        return record;
    }

    public static async Task<FakeArtifacts> StartAsync(string internalKey)
    {
        var fake = new FakeArtifacts();
        fake._server = await LoopbackServer.StartAsync(app => fake.Map(app, internalKey));
        return fake;
    }

    private void Map(WebApplication app, string internalKey)
    {
        app.Use(async (http, next) =>
        {
            Interlocked.Increment(ref _requests);
            if (http.Request.Headers[InternalApi.HeaderName] != internalKey)
            {
                Interlocked.Increment(ref _withoutKey);
                http.Response.StatusCode = 401;
                await http.Response.WriteAsJsonAsync(new { error = new { code = "UNAUTHENTICATED", message = "internal key required" } });
                return;
            }
            await next(http);
        });
        app.MapGet("/internal/artifacts/{id:guid}", (Guid id) =>
            _artifacts.TryGetValue(id, out var a) ? Results.Json(a.Record) : NotFound());
        app.MapGet("/internal/artifacts/{id:guid}/content", (Guid id) =>
            _artifacts.TryGetValue(id, out var a) ? Results.Bytes(a.Bytes, a.Record.ContentType) : NotFound());
        app.MapGet("/internal/artifacts", (Guid boxId) =>
            Results.Json(new { items = _artifacts.Values.Select(a => a.Record).Where(r => r.BoxId == boxId).OrderBy(r => r.CreatedAt) }));
    }

    private static IResult NotFound() => Results.Json(new { error = new { code = "NOT_FOUND", message = "no such artifact" } }, statusCode: 404);

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
