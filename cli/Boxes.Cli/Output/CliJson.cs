using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Boxes.Cli.Output;

/// <summary>How objects are written with --json: the API's camelCase shape, nulls kept (a null field is information).</summary>
public static class CliJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        // URLs carry '&' and '+'; escaping them as \u0026 would be valid JSON but hostile to people reading it.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static JsonNode? ToNode<T>(T value) => JsonSerializer.SerializeToNode(value, Options);

    public static string Serialize<T>(T value) => JsonSerializer.Serialize(value, Options);
}
