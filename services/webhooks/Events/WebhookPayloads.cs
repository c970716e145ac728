using System.Text.Json;
using Boxes.Contracts;

namespace Boxes.Webhooks.Events;

/// <summary>
/// The body of a delivery: <c>{"type", "timestamp", "data"}</c>, camelCase. Serialized once when the delivery is
/// made and stored as text: every attempt sends and signs exactly those bytes.
/// </summary>
public static class WebhookPayloads
{
    public sealed record Usage(double VcpuSeconds);
    public sealed record Artifact(Guid Key, string Kind, string ContentType, long SizeBytes);

    /// <summary>A box as the payload describes it, as of the event.</summary>
    public sealed record BoxData(Guid Id, string Kind, string Status, string? EndReason, Usage Usage)
    {
        // Only artifact.created carries it; the other types leave the field out rather than send null.
        [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
        public Artifact? Artifact { get; init; }
    }

    public sealed record TestData(Guid WebhookId, string Message);

    private sealed record Envelope<T>(string Type, string Timestamp, T Data);

    public static string ForBox(string type, DateTimeOffset timestamp, BoxView box, double vcpuSeconds, ArtifactCreated? artifact) =>
        Serialize(type, timestamp, new BoxData(box.Id, box.Kind, box.Status, box.EndReason, new Usage(Math.Round(vcpuSeconds, 3)))
        {
            Artifact = artifact is null ? null : new Artifact(artifact.ArtifactId, artifact.Kind, artifact.ContentType, artifact.SizeBytes),
        });

    public static string ForTest(Guid webhookId, DateTimeOffset timestamp) =>
        Serialize(Subscriptions.EventTypes.Test, timestamp, new TestData(webhookId, "A test event sent from the Boxes webhooks service."));

    private static string Serialize<T>(string type, DateTimeOffset timestamp, T data) =>
        JsonSerializer.Serialize(new Envelope<T>(type, Iso8601(timestamp), data), BoxesJson.Options);

    /// <summary>UTC with milliseconds and a Z: <c>2025-01-31T12:00:00.123Z</c>.</summary>
    public static string Iso8601(DateTimeOffset t) =>
        t.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", System.Globalization.CultureInfo.InvariantCulture);
}
