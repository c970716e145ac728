using System.Net;

namespace Boxes.Webhooks.Security;

/// <summary>How the guard reads the host part of a URL.</summary>
public static class HostNames
{
    /// <summary>Lower case, without IPv6 brackets or a trailing dot (<c>Example.COM.</c> and <c>example.com</c> are one host).</summary>
    public static string Normalize(string host)
    {
        var h = host.Trim();
        if (h.StartsWith('[') && h.EndsWith(']')) h = h[1..^1];
        // An IPv6 zone comes percent-encoded out of a URL (fe80::1%25eth0).
        if (h.Contains('%', StringComparison.Ordinal)) h = Uri.UnescapeDataString(h);
        if (h.EndsWith('.') && h.Length > 1) h = h[..^1];
        return h.ToLowerInvariant();
    }

    /// <summary>
    /// The address a host spells, in any form a resolver would also read as an address: dotted quad, a single
    /// decimal (<c>2130706433</c>), octal (<c>0177.0.0.1</c>), hex (<c>0x7f000001</c>, <c>0x7f.1</c>), short forms
    /// (<c>127.1</c>), bracketed IPv6 with or without a zone, and all of those with a trailing dot.
    /// </summary>
    public static bool TryParseAddress(string host, out IPAddress address)
    {
        // IPAddress.TryParse accepts the inet_aton spellings (decimal, octal, hex, 1 to 4 parts), the ones
        // getaddrinfo would also turn into an address without asking DNS.
        var h = Normalize(host);
        address = IPAddress.None;
        if (h.Length == 0) return false;
        if (!IPAddress.TryParse(h, out var parsed)) return false;
        address = parsed;
        return true;
    }
}
