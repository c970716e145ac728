using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Boxes.Api.Billing;

/// <summary>
/// Stripe's webhook signature: <c>Stripe-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex&gt;[,v1=...]</c>, where each v1 is
/// the lower-case hex HMAC-SHA256 of <c>"{t}.{raw body}"</c> keyed with the endpoint's signing secret (the whole
/// <c>whsec_...</c> string, as UTF-8). Several v1 entries appear while a secret is being rolled; any one verifying is
/// enough. Other schemes (<c>v0</c>, Stripe's test-mode scheme) are ignored.
/// </summary>
public static class StripeSignature
{
    public enum Verdict { Valid, Malformed, Mismatch, OutsideTolerance }

    public static Verdict Verify(string? header, ReadOnlySpan<byte> payload, string secret, DateTimeOffset now, TimeSpan tolerance)
    {
        if (string.IsNullOrWhiteSpace(header) || header.Length > 4096) return Verdict.Malformed;
        long? timestamp = null;
        var signatures = new List<byte[]>();
        foreach (var part in header.Split(','))
        {
            var pair = part.Split('=', 2);
            if (pair.Length != 2) continue;
            var (name, value) = (pair[0].Trim(), pair[1].Trim());
            if (name == "t")
            {
                if (!long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var t)) return Verdict.Malformed;
                timestamp = t;
            }
            else if (name == "v1")
            {
                try
                {
                    signatures.Add(Convert.FromHexString(value));
                }
                catch (FormatException)
                {
                    // A v1 that is not hex is a signature that does not match (another one still may).
                    signatures.Add([]);
                }
            }
        }
        if (timestamp is not { } signedAt || signatures.Count == 0) return Verdict.Malformed;

        var expected = Compute(secret, signedAt, payload);
        if (!signatures.Any(s => CryptographicOperations.FixedTimeEquals(s, expected))) return Verdict.Mismatch;
        // Checked after the signature, so that an attacker learns nothing from it; a valid but old signature is a replay.
        var age = now - DateTimeOffset.FromUnixTimeSeconds(Math.Clamp(signedAt, 0, 253402300799));
        return age.Duration() > tolerance ? Verdict.OutsideTolerance : Verdict.Valid;
    }

    /// <summary>The v1 signature of <paramref name="payload"/> signed at <paramref name="timestamp"/>.</summary>
    public static byte[] Compute(string secret, long timestamp, ReadOnlySpan<byte> payload)
    {
        var prefix = Encoding.UTF8.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        var signed = new byte[prefix.Length + payload.Length];
        prefix.CopyTo(signed, 0);
        payload.CopyTo(signed.AsSpan(prefix.Length));
        return HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed);
    }
}
