using System.Net;
using Boxes.Clients;
using Boxes.Contracts;
using Xunit;

namespace Boxes.Artifacts.Tests;

public sealed class SizeLimitTests(SmallLimitArtifactsHost host) : IClassFixture<SmallLimitArtifactsHost>
{
    private const long Limit = SmallLimitArtifactsHost.Limit;

    [Fact]
    public async Task An_upload_over_the_limit_with_a_declared_length_is_refused_with_413_and_stores_nothing()
    {
        var artifactId = Guid.NewGuid();
        var (records, events, blobs) = (await host.CountRecords(), await host.CountEvents(), host.BlobFiles().Count);

        var error = await Assert.ThrowsAsync<ArtifactsException>(() => host.Client.UploadAsync(artifactId, Guid.NewGuid(), Guid.NewGuid(),
            ArtifactKinds.Checkpoint, "application/gzip", new MemoryStream(new byte[Limit + 1]), CancellationToken.None));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, error.StatusCode);
        Assert.Equal("VALIDATION_FAILED", error.Code);
        Assert.Contains("Artifacts:MaxBytes", error.Message);
        Assert.Null(await host.Client.GetAsync(artifactId, CancellationToken.None));
        Assert.Equal((records, events, blobs), (await host.CountRecords(), await host.CountEvents(), host.BlobFiles().Count));
        Assert.Empty(host.TempFiles());
    }

    [Theory]
    [InlineData(1)]
    [InlineData(32 * 1024 * 1024)]
    public async Task An_upload_over_the_limit_without_a_declared_length_is_refused_with_413_and_leaves_no_temporary_file(int over)
    {
        var artifactId = Guid.NewGuid();
        var (records, events, blobs) = (await host.CountRecords(), await host.CountEvents(), host.BlobFiles().Count);

        var error = await Assert.ThrowsAsync<ArtifactsException>(() => host.Client.UploadAsync(artifactId, Guid.NewGuid(), Guid.NewGuid(),
            ArtifactKinds.Checkpoint, "application/gzip", new GeneratedStream(Limit + over), CancellationToken.None));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, error.StatusCode);
        Assert.Null(await host.Client.GetAsync(artifactId, CancellationToken.None));
        Assert.Equal((records, events, blobs), (await host.CountRecords(), await host.CountEvents(), host.BlobFiles().Count));
        Assert.Empty(host.TempFiles());
    }

    [Fact]
    public async Task An_upload_of_exactly_the_limit_is_stored()
    {
        var source = new GeneratedStream(Limit);

        var record = await host.Client.UploadAsync(Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid(), ArtifactKinds.Recording, "video/webm", source, CancellationToken.None);

        Assert.Equal((Limit, source.Sha256), (record.SizeBytes, record.Sha256));
    }

    [Fact]
    public async Task A_repeat_over_the_limit_is_refused_and_the_stored_artifact_stands()
    {
        var (artifactId, boxId, organizationId) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var first = await host.Client.UploadAsync(artifactId, boxId, organizationId, ArtifactKinds.Log, "text/plain", new MemoryStream(new byte[100]), CancellationToken.None);

        var error = await Assert.ThrowsAsync<ArtifactsException>(() => host.Client.UploadAsync(artifactId, boxId, organizationId,
            ArtifactKinds.Log, "text/plain", new GeneratedStream(Limit + 1), CancellationToken.None));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, error.StatusCode);
        Assert.Equal(first, await host.Client.GetAsync(artifactId, CancellationToken.None));
    }
}
