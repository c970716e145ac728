namespace Boxes.Artifacts;

/// <summary>The <c>Artifacts</c> configuration section.</summary>
public sealed class ArtifactsOptions
{
    /// <summary>Where the filesystem blob store keeps the bytes (<c>tmp/</c> and <c>blobs/</c> below it).</summary>
    public string DataDir { get; set; } = Path.Combine(Path.GetTempPath(), "boxes-artifacts");

    /// <summary>The largest artifact accepted, in bytes; larger uploads are refused with 413.</summary>
    public long MaxBytes { get; set; } = 2L * 1024 * 1024 * 1024;
}
