using System.Text.RegularExpressions;
using Boxes.Artifacts.Catalog;
using Boxes.Contracts;

namespace Boxes.Artifacts.Endpoints;

/// <summary>Checks an upload's query parameters; every message names the field that is wrong.</summary>
public static partial class UploadValidation
{
    public const int MaxContentTypeLength = 100;

    public static readonly IReadOnlySet<string> Kinds = new HashSet<string>(StringComparer.Ordinal)
    {
        ArtifactKinds.Checkpoint, ArtifactKinds.Screenshot, ArtifactKinds.Recording, ArtifactKinds.Log, ArtifactKinds.File,
    };

    public static (NewArtifact? Upload, string? Error) Validate(string artifactId, IQueryCollection query)
    {
        if (!TryParseId(artifactId, out var id)) return (null, $"artifactId must be a GUID, not '{Shorten(artifactId)}'.");
        if (RequireId(query, "boxId", out var boxId) is { } boxError) return (null, boxError);
        if (RequireId(query, "organizationId", out var organizationId) is { } orgError) return (null, orgError);
        var kind = query["kind"].ToString();
        if (kind.Length == 0) return (null, $"kind is required: one of {string.Join(", ", Kinds.Order())}.");
        if (!Kinds.Contains(kind)) return (null, $"kind must be one of {string.Join(", ", Kinds.Order())}, not '{Shorten(kind)}'.");
        var contentType = query["contentType"].ToString();
        if (contentType.Length == 0) return (null, "contentType is required: a MIME type such as application/gzip.");
        if (contentType.Length > MaxContentTypeLength) return (null, $"contentType must be at most {MaxContentTypeLength} characters.");
        if (!MimeType().IsMatch(contentType)) return (null, $"contentType must be a MIME type such as application/gzip, not '{Shorten(contentType)}'.");
        return (new NewArtifact(id, boxId, organizationId, kind, contentType), null);
    }

    /// <summary>A required GUID query parameter; returns the error message or null.</summary>
    public static string? RequireId(IQueryCollection query, string name, out Guid value)
    {
        value = Guid.Empty;
        var values = query[name];
        if (values.Count == 0 || values.ToString().Length == 0) return $"{name} is required: a GUID.";
        if (values.Count > 1) return $"{name} must be given once.";
        return TryParseId(values.ToString(), out value) ? null : $"{name} must be a GUID, not '{Shorten(values.ToString())}'.";
    }

    private static bool TryParseId(string text, out Guid id) => Guid.TryParse(text, out id) && id != Guid.Empty;

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..60] + "...";

    /// <summary>
    /// type/subtype with RFC 6838 restricted names, optionally followed by parameters (<c>; charset=utf-8</c>).
    /// No wildcards, spaces inside names or control characters: the value is sent back as a Content-Type header.
    /// </summary>
    [GeneratedRegex("""^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]*(\s*;\s*[A-Za-z0-9!#$&^_.+-]+=("[^"\\\x00-\x1f\x7f]*"|[A-Za-z0-9!#$&^_.+-]+))*$""")]
    private static partial Regex MimeType();
}
