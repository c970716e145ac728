using Boxes.Clients;
using Boxes.Contracts;

namespace Boxes.Worker.Sandboxes;

/// <summary>Checkpoints live in the artifacts service: uploaded as the box's checkpoint artifact, read back by id.</summary>
public sealed class ArtifactsCheckpointStore(ArtifactsClient artifacts) : ICheckpointStore
{
    public const string ContentType = "application/gzip";

    public async Task<CheckpointRecord> SaveAsync(Guid artifactId, Guid boxId, Guid organizationId, Stream archive, CancellationToken ct)
    {
        var r = await artifacts.UploadAsync(artifactId, boxId, organizationId, ArtifactKinds.Checkpoint, ContentType, archive, ct);
        return new CheckpointRecord(r.ArtifactId, r.Kind, r.ContentType, r.SizeBytes, r.Sha256, r.CreatedAt);
    }

    public async Task<Stream?> OpenAsync(Guid artifactId, Guid organizationId, CancellationToken ct)
    {
        // The API checked the id against the caller's organisation already; checking again here keeps a
        // forged StartBox from reading another organisation's workspace.
        var record = await artifacts.GetAsync(artifactId, ct);
        if (record is null || record.OrganizationId != organizationId || record.Kind != ArtifactKinds.Checkpoint) return null;
        var response = await artifacts.OpenContentAsync(artifactId, ct);
        if (response is null) return null;
        return new OwningStream(await response.Content.ReadAsStreamAsync(ct), response);
    }

    /// <summary>The content stream that also disposes its HTTP response.</summary>
    private sealed class OwningStream(Stream inner, IDisposable owner) : Stream
    {
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken ct = default) => inner.ReadAsync(buffer, ct);
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                owner.Dispose();
            }
            base.Dispose(disposing);
        }
    }
}
