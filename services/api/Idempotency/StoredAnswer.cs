using System.Text.Json;
using Boxes.Contracts;

namespace Boxes.Api.Idempotency;

/// <summary>
/// An answer as it went out (status, content type, body bytes): what a retry with the same Idempotency-Key gets back.
/// <see cref="Replayed"/> marks the copy sent to a retry (<c>Idempotent-Replayed: true</c>).
/// </summary>
public sealed record StoredAnswer(int StatusCode, string? ContentType, byte[] Body) : IResult
{
    public const string ReplayedHeader = "Idempotent-Replayed";

    public bool Replayed { get; init; }

    /// <summary>A JSON answer serialised the way <c>Results.Json</c> with <see cref="BoxesJson.Options"/> writes it.</summary>
    public static StoredAnswer Json(int statusCode, object value) =>
        new(statusCode, "application/json; charset=utf-8", JsonSerializer.SerializeToUtf8Bytes(value, value.GetType(), BoxesJson.Options));

    public async Task ExecuteAsync(HttpContext http)
    {
        http.Response.StatusCode = StatusCode;
        if (ContentType is not null) http.Response.ContentType = ContentType;
        http.Response.ContentLength = Body.Length;
        if (Replayed) http.Response.Headers[ReplayedHeader] = "true";
        await http.Response.Body.WriteAsync(Body, http.RequestAborted);
    }
}
