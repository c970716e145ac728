using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Boxes.Api.Auth;
using Boxes.Api.Lifecycle;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Artifacts;

/// <summary>
/// Signed, expiring download links for artifacts:
/// <c>{PublicUrl}/v1/artifacts/{key}/content?org=&amp;expires=&amp;sig=</c>, where sig is base64url HMAC-SHA256 (the
/// token signing key) over the artifact id, its organisation and the expiry. The link is the credential, so it
/// works in a browser or curl without the API key; it opens that one artifact and only until it expires. The
/// organisation travels in the link so that a refused link is refused before anything is looked up.
/// </summary>
public sealed class ArtifactLinks(SessionTokens signer, IOptions<ApiOptions> options, TimeProvider clock)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(15);
    private readonly string _base = PublicAddress.Http(options.Value.PublicUrl);

    public (string Url, DateTimeOffset ExpiresAt) Create(Guid artifactId, Guid organizationId)
    {
        var expires = DateTimeOffset.FromUnixTimeSeconds(clock.GetUtcNow().Add(Lifetime).ToUnixTimeSeconds());
        var seconds = expires.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        var sig = Base64Url.EncodeToString(signer.Sign(Payload(artifactId, organizationId, seconds)));
        return ($"{_base}/v1/artifacts/{artifactId}/content?org={organizationId:N}&expires={seconds}&sig={sig}", expires);
    }

    public enum Verdict { Valid, Malformed, BadSignature, Expired }

    /// <summary>Checks the link's signature (constant time) and expiry; no I/O.</summary>
    public (Verdict Verdict, Guid OrganizationId) Verify(Guid artifactId, string? org, string? expires, string? sig)
    {
        if (!Guid.TryParseExact(org, "N", out var organizationId)
            || string.IsNullOrEmpty(expires) || expires.Length > 12 || !long.TryParse(expires, NumberStyles.None, CultureInfo.InvariantCulture, out var expiry)
            || string.IsNullOrEmpty(sig) || sig.Length > 100)
            return (Verdict.Malformed, default);
        byte[] presented;
        try
        {
            presented = Base64Url.DecodeFromChars(sig);
        }
        catch (FormatException)
        {
            return (Verdict.Malformed, default);
        }
        if (!CryptographicOperations.FixedTimeEquals(presented, signer.Sign(Payload(artifactId, organizationId, expires))))
            return (Verdict.BadSignature, default);
        if (clock.GetUtcNow().ToUnixTimeSeconds() >= expiry) return (Verdict.Expired, default);
        return (Verdict.Valid, organizationId);
    }

    // A prefix of its own keeps these signatures apart from session tokens signed with the same key.
    private static byte[] Payload(Guid artifactId, Guid organizationId, string expires) =>
        Encoding.ASCII.GetBytes($"artifact-download.{artifactId:N}.{organizationId:N}.{expires}");
}
