namespace Boxes.Sdk;

/// <summary>One sandbox's files (<see cref="SandboxFs"/> bound to its id).</summary>
public sealed class LaunchedSandboxFs
{
    private readonly SandboxFs _fs;
    private readonly string _id;

    internal LaunchedSandboxFs(SandboxFs fs, string id)
    {
        _fs = fs;
        _id = id;
    }

    /// <summary>A file's content as UTF-8 text.</summary>
    public Task<string> ReadAsync(string path, CancellationToken cancellationToken = default) => _fs.ReadAsync(_id, path, cancellationToken);

    /// <summary>A file's bytes.</summary>
    public Task<byte[]> ReadBytesAsync(string path, CancellationToken cancellationToken = default) => _fs.ReadBytesAsync(_id, path, cancellationToken);

    /// <summary>Writes text (UTF-8) to a file, creating its folders.</summary>
    public Task WriteAsync(string path, string content, CancellationToken cancellationToken = default) => _fs.WriteAsync(_id, path, content, cancellationToken);

    /// <summary>Writes bytes to a file, creating its folders.</summary>
    public Task WriteBytesAsync(string path, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) =>
        _fs.WriteBytesAsync(_id, path, content, cancellationToken);

    /// <summary>A folder's entries.</summary>
    public Task<IReadOnlyList<FsEntry>> ListAsync(string path = "/workspace", CancellationToken cancellationToken = default) =>
        _fs.ListAsync(_id, path, cancellationToken);
}
