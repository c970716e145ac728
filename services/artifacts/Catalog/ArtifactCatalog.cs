using Boxes.Artifacts.Storage;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Npgsql;

namespace Boxes.Artifacts.Catalog;

/// <summary>Artifact records in <c>artifacts.artifacts</c>, written together with the box's <see cref="ArtifactCreated"/> event.</summary>
public sealed class ArtifactCatalog(NpgsqlDataSource dataSource, EventStore.EventStore store, IBlobStore blobs, TimeProvider clock, ILogger<ArtifactCatalog> logger)
{
    private const string Columns = "artifact_id, box_id, organization_id, kind, content_type, size_bytes, sha256, created_at, blob_key";

    public async Task<StoredArtifact?> FindAsync(Guid artifactId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM artifacts.artifacts WHERE artifact_id = $1");
        cmd.Parameters.Add(new() { Value = artifactId });
        await using var r = await cmd.ExecuteReaderAsync(ct);
        return await r.ReadAsync(ct) ? Read(r) : null;
    }

    /// <summary>The box's artifacts, oldest first.</summary>
    public async Task<IReadOnlyList<Artifact>> ListByBoxAsync(Guid boxId, CancellationToken ct)
    {
        await using var cmd = dataSource.CreateCommand($"SELECT {Columns} FROM artifacts.artifacts WHERE box_id = $1 ORDER BY created_at, artifact_id");
        cmd.Parameters.Add(new() { Value = boxId });
        var items = new List<Artifact>();
        await using var r = await cmd.ExecuteReaderAsync(ct);
        while (await r.ReadAsync(ct)) items.Add(Read(r).Artifact);
        return items;
    }

    /// <summary>
    /// Keeps a staged upload: moves its bytes into place, then records it and appends <see cref="ArtifactCreated"/>
    /// in one transaction. Returns the stored artifact and whether this call created it (false: another upload
    /// of the same id got there first, and this one's bytes were discarded).
    /// </summary>
    public async Task<(StoredArtifact Stored, bool Created)> StoreAsync(NewArtifact upload, IStagedBlob blob, CancellationToken ct)
    {
        var now = clock.GetUtcNow();
        // PostgreSQL keeps microseconds: truncate so that the answer equals what a later GET reads back.
        var createdAt = new DateTimeOffset(now.UtcTicks - now.UtcTicks % 10, TimeSpan.Zero);
        var artifact = new Artifact(upload.ArtifactId, upload.BoxId, upload.OrganizationId, upload.Kind, upload.ContentType, blob.SizeBytes, blob.Sha256, createdAt);
        // A key of its own for every attempt: an attempt that fails deletes only its own file, never the bytes a
        // concurrent upload of the same id put in place and committed.
        var n = upload.ArtifactId.ToString("N");
        var stored = new StoredArtifact(artifact, $"{n[..2]}/{n}.{Guid.NewGuid():N}");
        var stream = Streams.ForBox(upload.BoxId);

        await using var conn = await dataSource.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        // The event store's rule: the stream lock is the first statement of a transaction that appends to it.
        await EventStore.EventStore.LockStreamAsync(tx, stream, ct);
        // The insert is also the lock on the id: a concurrent upload of the same id waits here until the first
        // commits, then inserts nothing and answers what the first stored. Proven by
        // ArtifactStorageTests.Concurrent_uploads_of_the_same_artifact_store_it_once.
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO artifacts.artifacts (artifact_id, box_id, organization_id, kind, content_type, size_bytes, sha256, created_at, blob_key)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (artifact_id) DO NOTHING
            """, conn, tx))
        {
            insert.Parameters.Add(new() { Value = artifact.ArtifactId });
            insert.Parameters.Add(new() { Value = artifact.BoxId });
            insert.Parameters.Add(new() { Value = artifact.OrganizationId });
            insert.Parameters.Add(new() { Value = artifact.Kind });
            insert.Parameters.Add(new() { Value = artifact.ContentType });
            insert.Parameters.Add(new() { Value = artifact.SizeBytes });
            insert.Parameters.Add(new() { Value = artifact.Sha256 });
            insert.Parameters.Add(new() { Value = artifact.CreatedAt });
            insert.Parameters.Add(new() { Value = stored.BlobKey });
            if (await insert.ExecuteNonQueryAsync(ct) == 0)
            {
                await tx.RollbackAsync(ct);
                return (await FindAsync(upload.ArtifactId, ct) ?? throw new InvalidOperationException($"Artifact {upload.ArtifactId} conflicted but cannot be read."), false);
            }
        }

        await blob.PromoteAsync(stored.BlobKey, ct);
        try
        {
            var created = new ArtifactCreated(artifact.BoxId, artifact.ArtifactId, artifact.OrganizationId, artifact.Kind,
                artifact.ContentType, artifact.SizeBytes, artifact.Sha256, artifact.CreatedAt);
            // Any version: artifacts arrive whatever state the box is in. The event id comes from the artifact id,
            // so an append retried for the same artifact is a no-op in the store.
            await store.AppendAsync(tx, stream, ExpectedVersion.Any,
                [StoredEvents.ToEventData(created, StoredEvents.DeriveId(artifact.ArtifactId, "artifact-created"))], ct);
        }
        catch
        {
            // Nothing was committed: the bytes just put in place belong to no record.
            await blobs.DeleteAsync(stored.BlobKey, CancellationToken.None);
            throw;
        }
        // A failed commit is left alone on purpose: the failure may be only the answer that got lost (the commit
        // itself went through), and deleting the bytes then would leave a record without them. At worst this
        // leaves an unreferenced file, which a retry of the upload does not reuse and costs only disk.
        await tx.CommitAsync(CancellationToken.None);
        logger.LogInformation("Stored artifact {ArtifactId} of box {BoxId}: {Kind}, {ContentType}, {SizeBytes} bytes, sha256 {Sha256}",
            artifact.ArtifactId, artifact.BoxId, artifact.Kind, artifact.ContentType, artifact.SizeBytes, artifact.Sha256);
        return (stored, true);
    }

    private static StoredArtifact Read(NpgsqlDataReader r) => new(
        new Artifact(r.GetGuid(0), r.GetGuid(1), r.GetGuid(2), r.GetString(3), r.GetString(4), r.GetInt64(5), r.GetString(6),
            r.GetFieldValue<DateTimeOffset>(7)),
        r.GetString(8));
}
