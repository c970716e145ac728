using System.Globalization;
using System.Text;

namespace Boxes.Sdk.Internal;

/// <summary>Query strings from optional parameters: absent ones are left out, every value escaped.</summary>
internal static class Query
{
    public static string Of(params (string Name, string? Value)[] parameters)
    {
        var text = new StringBuilder();
        foreach (var (name, value) in parameters)
        {
            if (value is null) continue;
            text.Append(text.Length == 0 ? '?' : '&').Append(name).Append('=').Append(Uri.EscapeDataString(value));
        }
        return text.ToString();
    }

    public static string? Number(int? value) => value?.ToString(CultureInfo.InvariantCulture);

    public static string? Flag(bool? value) => value switch { true => "true", false => "false", null => null };

    /// <summary>ISO 8601 in UTC, as the API reads times.</summary>
    public static string? Time(DateTimeOffset? value) => value?.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fffK", CultureInfo.InvariantCulture);
}
