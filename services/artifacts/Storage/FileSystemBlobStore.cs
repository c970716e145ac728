using System.Buffers;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;

namespace Boxes.Artifacts.Storage;

/// <summary>
/// Blobs as files under <c>Artifacts:DataDir</c>: uploads are written to <c>tmp/</c> and renamed into
/// <c>blobs/</c> (the same filesystem, so the rename is atomic). At start it makes the folders and sweeps
/// temporary files that a crashed process left behind.
/// </summary>
public sealed class FileSystemBlobStore(IOptions<ArtifactsOptions> options, ILogger<FileSystemBlobStore> logger) : IBlobStore, IHostedService
{
    private const int ChunkBytes = 128 * 1024;
    private const string PartSuffix = ".part";

    /// <summary>A live upload writes continuously; a temporary file untouched this long belongs to a process that died.</summary>
    private static readonly TimeSpan StaleAfter = TimeSpan.FromHours(1);

    private readonly string _root = Path.GetFullPath(options.Value.DataDir);
    private string TempDir => Path.Combine(_root, "tmp");
    private string BlobDir => Path.Combine(_root, "blobs");

    public Task StartAsync(CancellationToken ct)
    {
        try
        {
            Directory.CreateDirectory(TempDir);
            Directory.CreateDirectory(BlobDir);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Artifacts:DataDir ({_root}) cannot be used: {ex.Message}", ex);
        }
        var swept = 0;
        foreach (var file in new DirectoryInfo(TempDir).EnumerateFiles("*" + PartSuffix))
        {
            if (DateTime.UtcNow - file.LastWriteTimeUtc < StaleAfter) continue;
            TryDelete(file.FullName);
            swept++;
        }
        logger.LogInformation("Blobs under {DataDir}; swept {Swept} stale temporary files", _root, swept);
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken ct) => Task.CompletedTask;

    public async Task<IStagedBlob> StageAsync(Stream content, long maxBytes, CancellationToken ct)
    {
        var path = Path.Combine(TempDir, Guid.NewGuid().ToString("N") + PartSuffix);
        var buffer = ArrayPool<byte>.Shared.Rent(ChunkBytes);
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            long size = 0;
            // bufferSize 0: we already write in large chunks, FileStream need not copy them again.
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.Asynchronous))
            {
                int read;
                while ((read = await content.ReadAsync(buffer.AsMemory(0, ChunkBytes), ct)) > 0)
                {
                    size += read;
                    if (size > maxBytes) throw new BlobTooLargeException(maxBytes);
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), ct);
                }
                // On disk before the rename and the database row that points at it: a record never outlives its bytes.
                file.Flush(flushToDisk: true);
            }
            return new StagedFile(this, path, size, Convert.ToHexStringLower(hash.GetHashAndReset()));
        }
        catch
        {
            TryDelete(path);
            throw;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    public Task<Stream?> OpenReadAsync(string key, CancellationToken ct)
    {
        try
        {
            Stream stream = new FileStream(PathOf(key), FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0,
                FileOptions.Asynchronous | FileOptions.SequentialScan);
            return Task.FromResult<Stream?>(stream);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return Task.FromResult<Stream?>(null);
        }
    }

    public Task DeleteAsync(string key, CancellationToken ct)
    {
        TryDelete(PathOf(key));
        return Task.CompletedTask;
    }

    /// <summary>Keys are made by this service, but a key must still never reach outside the blob folder.</summary>
    private string PathOf(string key)
    {
        var path = Path.GetFullPath(Path.Combine(BlobDir, key));
        return path.StartsWith(BlobDir + Path.DirectorySeparatorChar, StringComparison.Ordinal)
            ? path
            : throw new ArgumentException($"The blob key '{key}' points outside the blob folder.", nameof(key));
    }

    private void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            logger.LogWarning(ex, "Could not delete {Path}", path);
        }
    }

    private sealed class StagedFile(FileSystemBlobStore store, string tempPath, long size, string sha256) : IStagedBlob
    {
        private bool _promoted;

        public long SizeBytes => size;
        public string Sha256 => sha256;

        public Task PromoteAsync(string key, CancellationToken ct)
        {
            var target = store.PathOf(key);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Move(tempPath, target, overwrite: true);
            _promoted = true;
            return Task.CompletedTask;
        }

        public ValueTask DisposeAsync()
        {
            if (!_promoted) store.TryDelete(tempPath);
            return ValueTask.CompletedTask;
        }
    }
}
