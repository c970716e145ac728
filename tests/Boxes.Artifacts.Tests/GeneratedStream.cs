using System.Security.Cryptography;

namespace Boxes.Artifacts.Tests;

/// <summary>
/// <paramref name="length"/> pseudo-random bytes made as they are read (nothing is held in memory), hashed on
/// the way. Not seekable, so an HTTP client sends it chunked, without a declared length. With
/// <paramref name="failAfter"/> it throws once that many bytes were read, like a source that breaks off.
/// </summary>
public sealed class GeneratedStream(long length, int seed = 1, long? failAfter = null) : Stream
{
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Random _random = new(seed);
    private long _position;
    private string? _sha256;

    /// <summary>The SHA-256 (lowercase hex) of every byte, known once the stream was read to its end.</summary>
    public string Sha256 => _sha256 ?? throw new InvalidOperationException("The stream has not been read to its end.");

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (failAfter is { } limit && _position >= limit) throw new IOException("The generated source broke off on purpose.");
        var n = (int)Math.Min(buffer.Length, length - _position);
        if (failAfter is { } stop) n = (int)Math.Min(n, stop - _position);
        if (n == 0)
        {
            _sha256 ??= Convert.ToHexStringLower(_hash.GetHashAndReset());
            return 0;
        }
        _random.NextBytes(buffer[..n]);
        _hash.AppendData(buffer[..n]);
        _position += n;
        return n;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken ct) => Task.FromResult(Read(buffer, offset, count));

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => _position; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing) _hash.Dispose();
        base.Dispose(disposing);
    }
}
