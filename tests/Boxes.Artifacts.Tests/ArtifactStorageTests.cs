using System.Net;
using System.Security.Cryptography;
using System.Text;
using Boxes.Clients;
using Boxes.Contracts;
using Boxes.Testing;
using Xunit;

namespace Boxes.Artifacts.Tests;

public sealed class ArtifactStorageTests(ArtifactsHost host) : IClassFixture<ArtifactsHost>
{
    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    private static byte[] RandomBytes(int n) => RandomNumberGenerator.GetBytes(n);
    private static string Sha256(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    private Task<ArtifactRecord> Upload(Guid artifactId, Guid boxId, byte[] bytes, string kind = ArtifactKinds.Checkpoint, string contentType = "application/gzip", Guid? organizationId = null) =>
        host.Client.UploadAsync(artifactId, boxId, organizationId ?? OrganizationId, kind, contentType, new MemoryStream(bytes), CancellationToken.None);

    private static readonly Guid OrganizationId = Guid.NewGuid();

    [Fact]
    public async Task Uploaded_bytes_read_back_identical_with_their_sha256_and_size()
    {
        var (artifactId, boxId, bytes) = (Guid.NewGuid(), Guid.NewGuid(), RandomBytes(300_000));

        using var source = new MemoryStream(bytes);
        var record = await host.Client.UploadAsync(artifactId, boxId, OrganizationId, ArtifactKinds.Checkpoint, "application/gzip", source, CancellationToken.None);

        Assert.True(source.CanRead, "the caller's stream is the caller's to dispose");
        Assert.Equal(artifactId, record.ArtifactId);
        Assert.Equal(boxId, record.BoxId);
        Assert.Equal(OrganizationId, record.OrganizationId);
        Assert.Equal(ArtifactKinds.Checkpoint, record.Kind);
        Assert.Equal("application/gzip", record.ContentType);
        Assert.Equal(bytes.Length, record.SizeBytes);
        Assert.Equal(Sha256(bytes), record.Sha256);
        Assert.Equal(record, await host.Client.GetAsync(artifactId, CancellationToken.None));

        using var content = await host.Client.OpenContentAsync(artifactId, CancellationToken.None);
        Assert.NotNull(content);
        Assert.Equal("application/gzip", content.Content.Headers.ContentType?.ToString());
        Assert.Equal(bytes.Length, content.Content.Headers.ContentLength);
        Assert.Equal(bytes, await content.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Uploading_an_artifact_appends_ArtifactCreated_to_the_box_stream()
    {
        var (artifactId, boxId, bytes) = (Guid.NewGuid(), Guid.NewGuid(), RandomBytes(1000));

        var record = await Upload(artifactId, boxId, bytes, ArtifactKinds.Screenshot, "image/png");

        var created = Assert.Single(await host.ArtifactEvents(boxId));
        Assert.Equal(new ArtifactCreated(boxId, artifactId, OrganizationId, ArtifactKinds.Screenshot, "image/png", 1000, Sha256(bytes), record.CreatedAt), created);
    }

    [Fact]
    public async Task Uploading_the_same_artifact_twice_stores_it_once()
    {
        var (artifactId, boxId, bytes) = (Guid.NewGuid(), Guid.NewGuid(), RandomBytes(200_000));
        var first = await Upload(artifactId, boxId, bytes);
        var blobs = host.BlobFiles().Count;

        // A retry whose bytes differ (say, a re-archived workspace): the stored artifact stands, the new bytes are dropped.
        var second = await Upload(artifactId, boxId, RandomBytes(50_000));

        Assert.Equal(first, second);
        Assert.Single(await host.ArtifactEvents(boxId));
        Assert.Equal(blobs, host.BlobFiles().Count);
        Assert.Empty(host.TempFiles());
        using var content = await host.Client.OpenContentAsync(artifactId, CancellationToken.None);
        Assert.Equal(bytes, await content!.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Concurrent_uploads_of_the_same_artifact_store_it_once()
    {
        var (artifactId, boxId) = (Guid.NewGuid(), Guid.NewGuid());
        var payloads = Enumerable.Range(0, 4).Select(_ => RandomBytes(500_000)).ToArray();
        var blobs = host.BlobFiles().Count;

        var records = await Task.WhenAll(payloads.Select(p => Upload(artifactId, boxId, p)));

        Assert.All(records, r => Assert.Equal(records[0], r));
        Assert.Single(await host.ArtifactEvents(boxId));
        Assert.Equal(blobs + 1, host.BlobFiles().Count);
        Assert.Empty(host.TempFiles());
        var winner = Assert.Single(payloads, p => Sha256(p) == records[0].Sha256);
        using var content = await host.Client.OpenContentAsync(artifactId, CancellationToken.None);
        Assert.Equal(winner, await content!.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Reusing_an_artifact_id_for_another_box_is_a_conflict_and_changes_nothing()
    {
        var (artifactId, boxId, otherBox) = (Guid.NewGuid(), Guid.NewGuid(), Guid.NewGuid());
        var first = await Upload(artifactId, boxId, RandomBytes(1000));

        var error = await Assert.ThrowsAsync<ArtifactsException>(() => Upload(artifactId, otherBox, RandomBytes(1000)));

        Assert.Equal(HttpStatusCode.Conflict, error.StatusCode);
        Assert.Equal(first, await host.Client.GetAsync(artifactId, CancellationToken.None));
        Assert.Empty(await host.ArtifactEvents(otherBox));
    }

    public static TheoryData<string, string, string> BadUploads => new()
    {
        // route id, query, the field the message must name
        { "not-a-guid", "boxId={box}&organizationId={org}&kind=checkpoint&contentType=application/gzip", "artifactId" },
        { "{id}", "organizationId={org}&kind=checkpoint&contentType=application/gzip", "boxId" },
        { "{id}", "boxId=box-1&organizationId={org}&kind=checkpoint&contentType=application/gzip", "boxId" },
        { "{id}", "boxId={box}&organizationId=00000000-0000-0000-0000-000000000000&kind=checkpoint&contentType=application/gzip", "organizationId" },
        { "{id}", "boxId={box}&kind=checkpoint&contentType=application/gzip", "organizationId" },
        { "{id}", "boxId={box}&organizationId={org}&kind=video&contentType=application/gzip", "kind" },
        { "{id}", "boxId={box}&organizationId={org}&contentType=application/gzip", "kind" },
        { "{id}", "boxId={box}&organizationId={org}&kind=checkpoint", "contentType" },
        { "{id}", "boxId={box}&organizationId={org}&kind=checkpoint&contentType=gzip", "contentType" },
        { "{id}", "boxId={box}&organizationId={org}&kind=checkpoint&contentType=text/html%0D%0AX-Evil:%201", "contentType" },
        { "{id}", "boxId={box}&organizationId={org}&kind=checkpoint&contentType=*/*", "contentType" },
        { "{id}", "boxId={box}&organizationId={org}&kind=checkpoint&contentType=application/" + new string('x', 100), "contentType" },
    };

    [Theory]
    [MemberData(nameof(BadUploads))]
    public async Task Bad_upload_parameters_are_refused_naming_the_field_and_store_nothing(string id, string query, string field)
    {
        var (artifactId, boxId) = (Guid.NewGuid(), Guid.NewGuid());
        var records = await host.CountRecords();
        var events = await host.CountEvents();
        var blobs = host.BlobFiles().Count;
        var url = $"internal/artifacts/{id.Replace("{id}", artifactId.ToString())}?" +
                  query.Replace("{box}", boxId.ToString()).Replace("{org}", OrganizationId.ToString());

        using var http = host.RawClient();
        using var response = await http.PutAsync(url, new ByteArrayContent(RandomBytes(100_000)));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var body = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync())!;
        Assert.Equal("VALIDATION_FAILED", body["error"]!["code"]!.GetValue<string>());
        Assert.StartsWith(field + " ", body["error"]!["message"]!.GetValue<string>());
        Assert.Equal(records, await host.CountRecords());
        Assert.Equal(events, await host.CountEvents());
        Assert.Equal(blobs, host.BlobFiles().Count);
        Assert.Empty(host.TempFiles());
    }

    [Fact]
    public async Task An_unknown_kind_through_the_client_is_a_validation_error_naming_kind()
    {
        var artifactId = Guid.NewGuid();

        var error = await Assert.ThrowsAsync<ArtifactsException>(() => Upload(artifactId, Guid.NewGuid(), RandomBytes(10), kind: "video"));

        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Equal("VALIDATION_FAILED", error.Code);
        Assert.Contains("kind must be one of", error.Message);
        Assert.Null(await host.Client.GetAsync(artifactId, CancellationToken.None));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("wrong-key-wrong-key-wrong-key")]
    public async Task Every_route_requires_the_internal_key(string? key)
    {
        var client = host.ClientWithKey(key);
        var (artifactId, boxId) = (Guid.NewGuid(), Guid.NewGuid());
        var stored = await Upload(Guid.NewGuid(), boxId, RandomBytes(10));

        var refusals = new List<ArtifactsException>
        {
            await Assert.ThrowsAsync<ArtifactsException>(() =>
                client.UploadAsync(artifactId, boxId, OrganizationId, ArtifactKinds.Log, "text/plain", new MemoryStream(RandomBytes(10)), CancellationToken.None)),
            await Assert.ThrowsAsync<ArtifactsException>(() => client.GetAsync(stored.ArtifactId, CancellationToken.None)),
            await Assert.ThrowsAsync<ArtifactsException>(() => client.OpenContentAsync(stored.ArtifactId, CancellationToken.None)),
            await Assert.ThrowsAsync<ArtifactsException>(() => client.ListAsync(boxId, CancellationToken.None)),
        };

        Assert.All(refusals, e => Assert.Equal((HttpStatusCode.Unauthorized, "UNAUTHENTICATED"), (e.StatusCode!.Value, e.Code)));
        Assert.Contains("X-Boxes-Internal-Key", refusals[0].Message);
        Assert.Null(await host.Client.GetAsync(artifactId, CancellationToken.None));
        Assert.Single(await host.ArtifactEvents(boxId));
    }

    [Fact]
    public async Task A_box_lists_its_own_artifacts_oldest_first()
    {
        var (boxId, otherBox) = (Guid.NewGuid(), Guid.NewGuid());
        var first = await Upload(Guid.NewGuid(), boxId, RandomBytes(10), ArtifactKinds.Checkpoint, "application/gzip");
        await Upload(Guid.NewGuid(), otherBox, RandomBytes(10));
        var second = await Upload(Guid.NewGuid(), boxId, RandomBytes(20), ArtifactKinds.Log, "text/plain; charset=utf-8");
        var third = await Upload(Guid.NewGuid(), boxId, RandomBytes(30), ArtifactKinds.Screenshot, "image/png");

        var items = await host.Client.ListAsync(boxId, CancellationToken.None);

        Assert.Equal([first, second, third], items);
        Assert.Empty(await host.Client.ListAsync(Guid.NewGuid(), CancellationToken.None));
    }

    [Fact]
    public async Task Listing_without_a_box_id_is_a_validation_error()
    {
        using var http = host.RawClient();
        using var response = await http.GetAsync("internal/artifacts?boxId=nope");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Contains("boxId must be a GUID", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_unknown_artifact_is_not_found()
    {
        var artifactId = Guid.NewGuid();

        Assert.Null(await host.Client.GetAsync(artifactId, CancellationToken.None));
        Assert.Null(await host.Client.OpenContentAsync(artifactId, CancellationToken.None));
        using var http = host.RawClient();
        using var response = await http.GetAsync($"internal/artifacts/{artifactId}");
        Assert.Contains("NOT_FOUND", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task An_unknown_route_answers_in_the_error_shape()
    {
        using var http = host.RawClient();
        using var response = await http.GetAsync("internal/nothing-here");

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("\"NOT_FOUND\"", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Content_can_be_read_by_range()
    {
        var (artifactId, bytes) = (Guid.NewGuid(), RandomBytes(10_000));
        await Upload(artifactId, Guid.NewGuid(), bytes);

        using var http = host.RawClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"internal/artifacts/{artifactId}/content");
        request.Headers.Range = new System.Net.Http.Headers.RangeHeaderValue(1000, 1999);
        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.PartialContent, response.StatusCode);
        Assert.Equal(bytes[1000..2000], await response.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_100_MiB_upload_streams_through_without_being_held_in_memory()
    {
        const long size = 100L * 1024 * 1024;
        var (artifactId, boxId) = (Guid.NewGuid(), Guid.NewGuid());
        var baseline = GC.GetTotalMemory(forceFullCollection: true);
        var peak = baseline;
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!sampling.IsCancellationRequested)
            {
                peak = Math.Max(peak, GC.GetTotalMemory(forceFullCollection: false));
                try { await Task.Delay(10, sampling.Token); }
                catch (OperationCanceledException) { }
            }
        });

        var source = new GeneratedStream(size, seed: 42);
        var record = await host.Client.UploadAsync(artifactId, boxId, OrganizationId, ArtifactKinds.Checkpoint, "application/gzip", source, CancellationToken.None);
        string downloaded;
        using (var content = await host.Client.OpenContentAsync(artifactId, CancellationToken.None))
        {
            await using var stream = await content!.Content.ReadAsStreamAsync();
            downloaded = Convert.ToHexStringLower(await SHA256.HashDataAsync(stream));
        }
        await sampling.CancelAsync();
        await sampler;

        Assert.Equal((size, source.Sha256), (record.SizeBytes, record.Sha256));
        Assert.Equal(source.Sha256, downloaded);
        Assert.Empty(host.TempFiles());
        // Client and service share this process: holding the body anywhere would show as ~100 MiB (or more) here.
        var grewMiB = (peak - baseline) / (1024.0 * 1024);
        Assert.True(grewMiB < 40, $"The managed heap grew by {grewMiB:0.0} MiB while 100 MiB went through.");
    }

    [Fact]
    public async Task An_upload_that_breaks_off_leaves_nothing_behind()
    {
        var (artifactId, boxId) = (Guid.NewGuid(), Guid.NewGuid());
        var blobs = host.BlobFiles().Count;

        await Assert.ThrowsAnyAsync<HttpRequestException>(() => host.Client.UploadAsync(artifactId, boxId, OrganizationId, ArtifactKinds.Checkpoint,
            "application/gzip", new GeneratedStream(10 * 1024 * 1024, failAfter: 3 * 1024 * 1024), CancellationToken.None));

        await Eventually.Until(() => host.TempFiles().Count == 0, Deadline, "the broken-off upload's temporary file to be removed");
        Assert.Null(await host.Client.GetAsync(artifactId, CancellationToken.None));
        Assert.Empty(await host.ArtifactEvents(boxId));
        Assert.Equal(blobs, host.BlobFiles().Count);
    }

    [Fact]
    public async Task A_cancelled_upload_leaves_nothing_behind()
    {
        var (artifactId, boxId) = (Guid.NewGuid(), Guid.NewGuid());
        using var cancel = new CancellationTokenSource();
        var source = new GeneratedStream(1024L * 1024 * 1024);
        var upload = host.Client.UploadAsync(artifactId, boxId, OrganizationId, ArtifactKinds.Checkpoint, "application/gzip", source, cancel.Token);

        await Eventually.Until(() => source.Position > 8 * 1024 * 1024, Deadline, "the upload to be under way");
        await Eventually.Until(() => host.TempFiles().Count == 1, Deadline, "the service to be writing its temporary file");
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => upload);
        await Eventually.Until(() => host.TempFiles().Count == 0, Deadline, "the cancelled upload's temporary file to be removed");
        Assert.Null(await host.Client.GetAsync(artifactId, CancellationToken.None));
        Assert.Empty(await host.ArtifactEvents(boxId));
    }

    [Fact]
    public async Task The_record_in_the_answer_is_exactly_what_is_stored()
    {
        var record = await Upload(Guid.NewGuid(), Guid.NewGuid(), Encoding.UTF8.GetBytes("hello"), ArtifactKinds.File, "text/plain");

        Assert.Equal("2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824", record.Sha256);
        Assert.Equal(record, await host.Client.GetAsync(record.ArtifactId, CancellationToken.None));
    }
}
