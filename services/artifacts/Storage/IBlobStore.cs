namespace Boxes.Artifacts.Storage;

/// <summary>
/// Where the bytes of artifacts live. Uploads are staged first (streamed to a temporary place while their
/// SHA-256 and size are computed) and promoted under their key only once the caller decided to keep them.
/// The filesystem is the one implementation; an S3-compatible store is not built yet (see the README).
/// </summary>
public interface IBlobStore
{
    /// <summary>
    /// Streams <paramref name="content"/> to a staging area without holding it in memory. Throws
    /// <see cref="BlobTooLargeException"/> once more than <paramref name="maxBytes"/> arrive. On any failure
    /// (too large, the caller went away, a disk error) nothing is left behind.
    /// </summary>
    Task<IStagedBlob> StageAsync(Stream content, long maxBytes, CancellationToken ct);

    /// <summary>The stored bytes, or null when nothing is stored under <paramref name="key"/>. The caller disposes the stream.</summary>
    Task<Stream?> OpenReadAsync(string key, CancellationToken ct);

    /// <summary>Removes what is stored under <paramref name="key"/>; a no-op when there is nothing.</summary>
    Task DeleteAsync(string key, CancellationToken ct);
}

/// <summary>An upload that arrived whole. Disposing it without <see cref="PromoteAsync"/> discards it.</summary>
public interface IStagedBlob : IAsyncDisposable
{
    long SizeBytes { get; }

    /// <summary>Lowercase hex SHA-256 of the bytes.</summary>
    string Sha256 { get; }

    /// <summary>Moves the bytes under <paramref name="key"/> atomically: readers see all of them or nothing.</summary>
    Task PromoteAsync(string key, CancellationToken ct);
}

public sealed class BlobTooLargeException(long maxBytes)
    : Exception($"The content is larger than the {maxBytes} bytes limit.")
{
    public long MaxBytes => maxBytes;
}
