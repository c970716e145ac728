using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;

namespace Boxes.Sdk.Internal;

/// <summary>A reader of <c>text/event-stream</c> (the WHATWG format: <c>event:</c>, <c>data:</c> lines, a blank line ends an event).</summary>
internal static class ServerSentEvents
{
    public static async IAsyncEnumerable<OpencodeEvent> ReadAsync(Stream stream, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? type = null;
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0 || type is not null) yield return Event(type, data.ToString());
                type = null;
                data.Clear();
                continue;
            }
            if (line[0] == ':') continue; // a comment (keep-alive)
            var colon = line.IndexOf(':');
            var field = colon < 0 ? line : line[..colon];
            var value = colon < 0 ? "" : line[(colon + 1)..];
            if (value.StartsWith(' ')) value = value[1..];
            switch (field)
            {
                case "event":
                    type = value;
                    break;
                case "data":
                    if (data.Length > 0) data.Append('\n');
                    data.Append(value);
                    break;
            }
        }
        if (data.Length > 0) yield return Event(type, data.ToString());
    }

    /// <summary>An event; its data parsed as JSON when it is JSON, whose <c>type</c> names the event when no <c>event:</c> line did.</summary>
    public static OpencodeEvent Event(string? type, string data)
    {
        JsonElement? parsed = null;
        if (data.Length > 0)
        {
            try
            {
                parsed = JsonSerializer.Deserialize(data, BoxesJsonContext.Default.JsonElement);
            }
            catch (JsonException)
            {
                parsed = JsonSerializer.SerializeToElement(data, BoxesJsonContext.Default.String);
            }
        }
        if (type is null && parsed is { ValueKind: JsonValueKind.Object } obj && obj.TryGetProperty("type", out var t) && t.ValueKind == JsonValueKind.String)
            type = t.GetString();
        return new OpencodeEvent { Type = type ?? "message", Data = parsed };
    }
}
