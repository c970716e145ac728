using System.Security.Cryptography;
using System.Text;

namespace Boxes.Webhooks.Tests.Infrastructure;

/// <summary>
/// A receiver's verification, written from the Standard Webhooks specification (standardwebhooks.com, "Verifying
/// webhook authenticity") and sharing no code with the service's signing: the secret is the base64 after
/// <c>whsec_</c>; the signed content is <c>{webhook-id}.{webhook-timestamp}.{body}</c>; <c>webhook-signature</c> is a
/// space-delimited list of <c>{version},{base64 signature}</c>, of which any one <c>v1</c> entry that matches an
/// HMAC-SHA256 of the content (compared in constant time) verifies the message; the timestamp must be within the
/// tolerance of now (the spec suggests five minutes) to refuse replays.
/// </summary>
public static class StandardWebhooksVerifier
{
    public static readonly TimeSpan Tolerance = TimeSpan.FromMinutes(5);

    /// <summary>True when the message is authentic and fresh; <paramref name="why"/> says what failed otherwise.</summary>
    public static bool Verify(string secret, string? id, string? timestamp, string? signatureHeader, string body, DateTimeOffset now, out string why)
    {
        why = "";
        if (string.IsNullOrEmpty(id) || string.IsNullOrEmpty(timestamp) || string.IsNullOrEmpty(signatureHeader))
        {
            why = "a webhook-id, webhook-timestamp or webhook-signature header is missing";
            return false;
        }
        if (!long.TryParse(timestamp, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var seconds))
        {
            why = $"webhook-timestamp '{timestamp}' is not an integer number of seconds";
            return false;
        }
        var sent = DateTimeOffset.FromUnixTimeSeconds(seconds);
        if (sent < now - Tolerance || sent > now + Tolerance)
        {
            why = $"webhook-timestamp {sent:O} is outside the tolerance around {now:O}";
            return false;
        }

        const string prefix = "whsec_";
        var key = Convert.FromBase64String(secret.StartsWith(prefix, StringComparison.Ordinal) ? secret[prefix.Length..] : secret);
        using var hmac = new HMACSHA256(key);
        var expected = hmac.ComputeHash(Encoding.UTF8.GetBytes(id + "." + timestamp + "." + body));

        foreach (var entry in signatureHeader.Split(' ', StringSplitOptions.RemoveEmptyEntries))
        {
            var comma = entry.IndexOf(',', StringComparison.Ordinal);
            if (comma < 0 || entry[..comma] != "v1") continue;
            byte[] presented;
            try { presented = Convert.FromBase64String(entry[(comma + 1)..]); }
            catch (FormatException) { continue; }
            if (CryptographicOperations.FixedTimeEquals(presented, expected)) return true;
        }
        why = $"no v1 signature in '{signatureHeader}' matches";
        return false;
    }

    /// <summary>The v1 entries of a signature header, in order.</summary>
    public static IReadOnlyList<string> Signatures(string header) =>
        header.Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(e => e.StartsWith("v1,", StringComparison.Ordinal)).ToList();
}
