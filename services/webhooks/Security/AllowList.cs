using System.Net;
using System.Net.Sockets;

namespace Boxes.Webhooks.Security;

/// <summary>
/// The operator's exceptions to the SSRF guard (<c>Webhooks:AllowedHosts</c>): host names, allowed whatever they
/// resolve to, and address ranges in CIDR form (a bare address is a range of one). The development setup allows
/// 127.0.0.1/32 so that tests and local receivers can be reached.
/// </summary>
public sealed class AllowList
{
    private readonly HashSet<string> _names = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<(IPAddress Network, int Prefix)> _ranges = [];

    public AllowList(IEnumerable<string> entries)
    {
        foreach (var raw in entries)
        {
            var entry = raw.Trim();
            if (entry.Length == 0) continue;
            if (TryParseRange(entry, out var range)) _ranges.Add(range);
            else if (entry.Contains('/', StringComparison.Ordinal) || entry.Contains(':', StringComparison.Ordinal))
                throw new FormatException($"Webhooks:AllowedHosts entry '{entry}' is neither a host name nor a CIDR range such as 127.0.0.1/32.");
            else _names.Add(HostNames.Normalize(entry));
        }
    }

    public static AllowList Empty { get; } = new([]);

    public bool AllowsName(string host) => _names.Count > 0 && _names.Contains(HostNames.Normalize(host));

    /// <summary>
    /// True when a range contains the address, of the same family: an IPv4 range does not let the IPv4-mapped IPv6
    /// form of its addresses through (::ffff:127.0.0.1 is an evasion, not how a receiver is addressed).
    /// </summary>
    public bool Allows(IPAddress address)
    {
        var a = address;
        foreach (var (network, prefix) in _ranges)
        {
            if (network.AddressFamily != a.AddressFamily) continue;
            var inRange = a.AddressFamily == AddressFamily.InterNetwork
                ? AddressPolicy.InPrefix(AddressPolicy.ToUInt32(a), AddressPolicy.ToUInt32(network), prefix)
                : AddressPolicy.InPrefix(AddressPolicy.ToUInt128(a), AddressPolicy.ToUInt128(network), prefix);
            if (inRange) return true;
        }
        return false;
    }

    private static bool TryParseRange(string entry, out (IPAddress Network, int Prefix) range)
    {
        range = default;
        var slash = entry.IndexOf('/', StringComparison.Ordinal);
        var addressPart = slash < 0 ? entry : entry[..slash];
        // Only the plain dotted-quad or IPv6 spelling here: an operator's "10" should not silently mean 0.0.0.10.
        if (!IPAddress.TryParse(addressPart, out var address)) return false;
        if (address.AddressFamily == AddressFamily.InterNetwork && addressPart.Count(c => c == '.') != 3) return false;
        var max = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        var prefix = max;
        if (slash >= 0 && (!int.TryParse(entry[(slash + 1)..], System.Globalization.CultureInfo.InvariantCulture, out prefix) || prefix < 0 || prefix > max))
            return false;
        range = (address, prefix);
        return true;
    }
}
