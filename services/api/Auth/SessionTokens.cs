using System.Buffers.Text;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Auth;

/// <summary>What a session token opens. A token of one scope never opens the other.</summary>
public static class TokenScopes
{
    /// <summary>A browser session's CDP WebSocket (cdpUrl).</summary>
    public const string Cdp = "cdp";
    /// <summary>A sandbox's interactive terminal WebSocket (terminalUrl).</summary>
    public const string Terminal = "terminal";
}

/// <summary>
/// Session-scoped, expiring tokens for the WebSocket URLs the API hands out (cdpUrl, terminalUrl):
/// HMAC-SHA256 over (scope, box, organisation, expiry). A token opens one box's socket of one kind and
/// nothing else; it is never the API key. The same signing key also signs artifact download links.
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

    public string Issue(string scope, Guid boxId, Guid organizationId, DateTimeOffset expiresAt)
    {
        var payload = $"{boxId:N}.{organizationId:N}.{expiresAt.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture)}.{scope}";
        var payloadBytes = Encoding.ASCII.GetBytes(payload);
        return Base64Url.EncodeToString(payloadBytes) + "." + Base64Url.EncodeToString(Sign(payloadBytes));
    }

    public enum Verdict { Valid, Malformed, BadSignature, Expired, OtherBox, OtherScope }

    /// <summary>Checks signature (constant time), scope, expiry and that the token is for this box.</summary>
    public (Verdict Verdict, Guid OrganizationId) Validate(string? token, string scope, Guid boxId)
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
        if (!CryptographicOperations.FixedTimeEquals(signature, Sign(payload))) return (Verdict.BadSignature, default);
        var parts = Encoding.ASCII.GetString(payload).Split('.');
        // Tokens issued before scopes existed have three parts and were only ever handed out in cdpUrl:
        // they keep opening CDP (and only CDP) until they expire with their session.
        var tokenScope = parts.Length == 3 ? TokenScopes.Cdp : parts.Length == 4 ? parts[3] : null;
        if (tokenScope is null || !Guid.TryParseExact(parts[0], "N", out var tokenBox) || !Guid.TryParseExact(parts[1], "N", out var org)
            || !long.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var expiry))
            return (Verdict.Malformed, default);
        if (!string.Equals(tokenScope, scope, StringComparison.Ordinal)) return (Verdict.OtherScope, default);
        if (_clock.GetUtcNow().ToUnixTimeSeconds() >= expiry) return (Verdict.Expired, org);
        if (tokenBox != boxId) return (Verdict.OtherBox, org);
        return (Verdict.Valid, org);
    }

    /// <summary>HMAC-SHA256 with the signing key, for anything else the API signs (artifact download links).</summary>
    public byte[] Sign(ReadOnlySpan<byte> payload) => HMACSHA256.HashData(_key, payload);
}
