using System.Security.Cryptography;
using System.Text;

namespace Boxes.Webhooks.Signing;

/// <summary>
/// Standard Webhooks signatures (https://www.standardwebhooks.com): the secret is <c>whsec_</c> + base64 of a random
/// key; a signature is <c>v1,</c> + base64(HMAC-SHA256(key, "{webhook-id}.{webhook-timestamp}.{body}")); several are
/// joined by spaces in one <c>webhook-signature</c> header (a rotated secret signs beside the new one).
/// </summary>
public static class WebhookSignature
{
    public const string SecretPrefix = "whsec_";
    /// <summary>The spec asks for 24 to 64 bytes; 32 is HMAC-SHA256's own block-sized sweet spot.</summary>
    public const int SecretBytes = 32;

    public static string NewSecret() => SecretPrefix + Convert.ToBase64String(RandomNumberGenerator.GetBytes(SecretBytes));

    /// <summary>The <c>v1,...</c> signature of one message with one secret.</summary>
    public static string Sign(string secret, string webhookId, long timestamp, string body)
    {
        var key = Convert.FromBase64String(secret.StartsWith(SecretPrefix, StringComparison.Ordinal) ? secret[SecretPrefix.Length..] : secret);
        var content = Encoding.UTF8.GetBytes($"{webhookId}.{timestamp.ToString(System.Globalization.CultureInfo.InvariantCulture)}.{body}");
        return "v1," + Convert.ToBase64String(HMACSHA256.HashData(key, content));
    }

    /// <summary>The header value: the current secret's signature, then the previous secret's while it is still valid.</summary>
    public static string Header(string secret, string? previousSecret, string webhookId, long timestamp, string body) =>
        previousSecret is null
            ? Sign(secret, webhookId, timestamp, body)
            : $"{Sign(secret, webhookId, timestamp, body)} {Sign(previousSecret, webhookId, timestamp, body)}";
}
