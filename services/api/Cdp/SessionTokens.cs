using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Boxes.Api.Auth;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Cdp;

/// <summary>
/// Session-scoped, expiring tokens for cdpUrl: HMAC-SHA256 over (box, organisation, expiry). A token
/// opens one box's CDP connection and nothing else; it is never the API key.
/// </summary>
public sealed class SessionTokens
{
    private readonly byte[] _key;
    private readonly TimeProvider _clock;

    public SessionTokens(IOptions<ApiOptions> options, TimeProvider clock)
    {
        _clock = clock;
        var configured = options.Value.TokenSigningKey;
        try
        {
            _key = Convert.FromBase64String(configured);
        }
        catch (FormatException)
        {
            throw new InvalidOperationException("Boxes:TokenSigningKey must be base64 (at least 32 bytes).");
        }
        if (_key.Length < 32)
            throw new InvalidOperationException("Boxes:TokenSigningKey (env Boxes__TokenSigningKey) must be set to at least 32 random bytes, base64-encoded.");
    }

    public string Issue(Guid boxId, Guid organizationId, DateTimeOffset expiresAt)
    {
        var payload = $"{boxId:N}.{organizationId:N}.{expiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}";
        var payloadBytes = Encoding.ASCII.GetBytes(payload);
        return Base64Url.EncodeToString(payloadBytes) + "." + Base64Url.EncodeToString(HMACSHA256.HashData(_key, payloadBytes));
    }

    public enum Verdict { Valid, Malformed, BadSignature, Expired, OtherBox }

    /// <summary>Checks signature (constant time), expiry and that the token is for this box.</summary>
    public (Verdict Verdict, Guid OrganizationId) Validate(string? token, Guid boxId)
    {
        if (string.IsNullOrEmpty(token) || token.Length > 512) return (Verdict.Malformed, default);
        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0) return (Verdict.Malformed, default);
        byte[] payload, signature;
        try
        {
            payload = Base64Url.DecodeFromChars(token.AsSpan(0, dot));
            signature = Base64Url.DecodeFromChars(token.AsSpan(dot + 1));
        }
        catch (FormatException)
        {
            return (Verdict.Malformed, default);
        }
        if (!CryptographicOperations.FixedTimeEquals(signature, HMACSHA256.HashData(_key, payload))) return (Verdict.BadSignature, default);
        var parts = Encoding.ASCII.GetString(payload).Split('.');
        if (parts.Length != 3 || !Guid.TryParseExact(parts[0], "N", out var tokenBox) || !Guid.TryParseExact(parts[1], "N", out var org)
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var expiry))
            return (Verdict.Malformed, default);
        if (_clock.GetUtcNow().ToUnixTimeSeconds() >= expiry) return (Verdict.Expired, org);
        if (tokenBox != boxId) return (Verdict.OtherBox, org);
        return (Verdict.Valid, org);
    }
}
