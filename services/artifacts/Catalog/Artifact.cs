namespace Boxes.Artifacts.Catalog;

/// <summary>A stored artifact as the internal API shows it.</summary>
public sealed record Artifact(
    Guid ArtifactId, Guid BoxId, Guid OrganizationId, string Kind, string ContentType, long SizeBytes, string Sha256, DateTimeOffset CreatedAt)
{
    /// <summary>Whether an upload with this metadata is a retry of this artifact (and not another artifact reusing its id).</summary>
    public bool Matches(NewArtifact upload) =>
        upload.BoxId == BoxId && upload.OrganizationId == OrganizationId && upload.Kind == Kind && upload.ContentType == ContentType;
}

/// <summary>What an upload says about itself: its query parameters, validated.</summary>
public sealed record NewArtifact(Guid ArtifactId, Guid BoxId, Guid OrganizationId, string Kind, string ContentType);

/// <summary>A row of <c>artifacts.artifacts</c>: the artifact and where its bytes are.</summary>
public sealed record StoredArtifact(Artifact Artifact, string BlobKey);
