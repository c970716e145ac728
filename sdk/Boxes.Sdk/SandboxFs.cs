using System.Text;
using Boxes.Sdk.Internal;

namespace Boxes.Sdk;

/// <summary>
/// A sandbox's files, under <c>/workspace</c> (<c>/workspace/a/b</c> or <c>a/b</c>); up to 64 MiB per call.
/// Reads and lists are retried like any GET; a write only where the server surely did not act (see the README).
/// </summary>
public sealed class SandboxFs
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);
    private static readonly TimeSpan FileTimeout = TimeSpan.FromMinutes(5);
    private readonly SandboxCloud _cloud;

    internal SandboxFs(SandboxCloud cloud) => _cloud = cloud;

    /// <summary>A file's content as UTF-8 text.</summary>
    public async Task<string> ReadAsync(string id, string path, CancellationToken cancellationToken = default) =>
        Utf8.GetString(await ReadBytesAsync(id, path, cancellationToken).ConfigureAwait(false));

    /// <summary>A file's bytes.</summary>
    public async Task<byte[]> ReadBytesAsync(string id, string path, CancellationToken cancellationToken = default)
    {
        using var response = await _cloud.Transport.SendAsync(new ApiCall(HttpMethod.Get, Route(id, "read", path), RetryRule.Idempotent)
        {
            Timeout = FileTimeout,
        }, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Writes text (UTF-8) to a file, creating its folders.</summary>
    public Task WriteAsync(string id, string path, string content, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(content);
        return WriteBytesAsync(id, path, Utf8.GetBytes(content), cancellationToken);
    }

    /// <summary>Writes bytes to a file, creating its folders.</summary>
    public Task WriteBytesAsync(string id, string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) =>
        _cloud.Transport.SendIgnoringBodyAsync(new ApiCall(HttpMethod.Put, Route(id, "write", path), RetryRule.OnlyIfNotActed)
        {
            Content = BoxesTransport.Bytes(content),
            Timeout = FileTimeout,
        }, cancellationToken);

    /// <summary>A folder's entries, sorted by name.</summary>
    public async Task<IReadOnlyList<FsEntry>> ListAsync(string id, string path = "/workspace", CancellationToken cancellationToken = default) =>
        (await _cloud.Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, Route(id, "list", path), RetryRule.Idempotent),
            BoxesJsonContext.Default.FsListResult, cancellationToken).ConfigureAwait(false)).Entries;

    private static string Route(string id, string operation, string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return $"{SandboxCloud.Path(id)}/fs/{operation}?path={Uri.EscapeDataString(path)}";
    }
}
