using System.Text.Json;
using System.Text.Json.Serialization;

namespace Boxes.Contracts;

/// <summary>The one JSON shape used for stored events and HTTP bodies: camelCase, enums as strings.</summary>
public static class BoxesJson
{
    public static readonly JsonSerializerOptions Options = Create();

    private static JsonSerializerOptions Create()
    {
        var o = new JsonSerializerOptions(JsonSerializerDefaults.Web)
        {
            DefaultIgnoreCondition = JsonIgnoreCondition.Never,
        };
        o.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.CamelCase));
        o.MakeReadOnly(populateMissingResolver: true);
        return o;
    }
}
