using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Boxes.Webhooks.Security;

/// <summary>
/// Which addresses a webhook may never reach (unless the operator's allow-list names them): everything that is not
/// a public unicast address. Pure, so that the whole table is tested without a network (SsrfGuardTests).
/// </summary>
public static class AddressPolicy
{
    private static readonly (uint Network, int Prefix, string Why)[] V4 =
    [
        (Ip4(0, 0, 0, 0), 8, "a \"this network\" address (0.0.0.0/8)"),
        (Ip4(10, 0, 0, 0), 8, "a private address (10.0.0.0/8)"),
        (Ip4(100, 64, 0, 0), 10, "a carrier-grade NAT address (100.64.0.0/10)"),
        (Ip4(127, 0, 0, 0), 8, "a loopback address (127.0.0.0/8)"),
        (Ip4(169, 254, 0, 0), 16, "a link-local address, where cloud metadata services live (169.254.0.0/16)"),
        (Ip4(172, 16, 0, 0), 12, "a private address (172.16.0.0/12)"),
        (Ip4(192, 0, 0, 0), 24, "an IETF protocol address (192.0.0.0/24)"),
        (Ip4(192, 0, 2, 0), 24, "a documentation address (192.0.2.0/24)"),
        (Ip4(192, 88, 99, 0), 24, "a 6to4 relay address (192.88.99.0/24)"),
        (Ip4(192, 168, 0, 0), 16, "a private address (192.168.0.0/16)"),
        (Ip4(198, 18, 0, 0), 15, "a benchmarking address (198.18.0.0/15)"),
        (Ip4(198, 51, 100, 0), 24, "a documentation address (198.51.100.0/24)"),
        (Ip4(203, 0, 113, 0), 24, "a documentation address (203.0.113.0/24)"),
        (Ip4(224, 0, 0, 0), 4, "a multicast address (224.0.0.0/4)"),
        (Ip4(240, 0, 0, 0), 4, "a reserved or broadcast address (240.0.0.0/4)"),
    ];

    private static readonly (UInt128 Network, int Prefix, string Why)[] V6 =
    [
        (Ip6("::"), 128, "the unspecified address (::)"),
        (Ip6("::1"), 128, "the loopback address (::1)"),
        (Ip6("100::"), 64, "a discard-only address (100::/64)"),
        (Ip6("64:ff9b:1::"), 48, "a local-use NAT64 address (64:ff9b:1::/48)"),
        (Ip6("2001::"), 32, "a Teredo address (2001::/32)"),
        (Ip6("2001:10::"), 28, "an ORCHID address (2001:10::/28)"),
        (Ip6("2001:20::"), 28, "an ORCHIDv2 address (2001:20::/28)"),
        (Ip6("2001:db8::"), 32, "a documentation address (2001:db8::/32)"),
        (Ip6("3fff::"), 20, "a documentation address (3fff::/20)"),
        (Ip6("fc00::"), 7, "a unique-local address, where cloud metadata services live too (fc00::/7)"),
        (Ip6("fe80::"), 10, "a link-local address (fe80::/10)"),
        (Ip6("fec0::"), 10, "a site-local address (fec0::/10)"),
        (Ip6("ff00::"), 8, "a multicast address (ff00::/8)"),
    ];

    /// <summary>Why the address is refused, or null for a public unicast address.</summary>
    public static string? WhyRefused(IPAddress address)
    {
        if (address.AddressFamily == AddressFamily.InterNetwork) return WhyRefusedV4(ToUInt32(address));
        if (address.AddressFamily != AddressFamily.InterNetworkV6) return "not an IP address";

        var value = ToUInt128(address);
        foreach (var (network, prefix, why) in V6)
            if (InPrefix(value, network, prefix)) return why;

        // IPv6 forms that carry an IPv4 address: the IPv4 address decides (::ffff:127.0.0.1 is loopback).
        if (EmbeddedV4(value) is { } embedded && WhyRefusedV4(embedded.V4) is { } inner)
            return $"{inner}, as {embedded.Form}";
        return null;
    }

    /// <summary>The IPv4 address inside an IPv4-mapped, IPv4-compatible, IPv4-translated, NAT64 or 6to4 address.</summary>
    internal static (uint V4, string Form)? EmbeddedV4(UInt128 value)
    {
        var low32 = (uint)(value & 0xFFFF_FFFF);
        if (InPrefix(value, Ip6("::ffff:0:0"), 96)) return (low32, "an IPv4-mapped IPv6 address");
        if (InPrefix(value, Ip6("::ffff:0:0:0"), 96)) return (low32, "an IPv4-translated IPv6 address");
        if (InPrefix(value, Ip6("64:ff9b::"), 96)) return (low32, "a NAT64 address");
        if (InPrefix(value, Ip6("::"), 96)) return (low32, "an IPv4-compatible IPv6 address");
        if (InPrefix(value, Ip6("2002::"), 16)) return ((uint)(value >> 80), "a 6to4 address");
        return null;
    }

    private static string? WhyRefusedV4(uint value)
    {
        foreach (var (network, prefix, why) in V4)
            if (InPrefix(value, network, prefix)) return why;
        return null;
    }

    internal static bool InPrefix(uint value, uint network, int prefix) =>
        prefix == 0 || (value ^ network) >> (32 - prefix) == 0;

    internal static bool InPrefix(UInt128 value, UInt128 network, int prefix) =>
        prefix == 0 || (value ^ network) >> (128 - prefix) == UInt128.Zero;

    internal static uint ToUInt32(IPAddress v4)
    {
        Span<byte> bytes = stackalloc byte[4];
        v4.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    internal static UInt128 ToUInt128(IPAddress v6)
    {
        Span<byte> bytes = stackalloc byte[16];
        v6.TryWriteBytes(bytes, out _);
        return BinaryPrimitives.ReadUInt128BigEndian(bytes);
    }

    private static uint Ip4(byte a, byte b, byte c, byte d) => (uint)(a << 24 | b << 16 | c << 8 | d);
    private static UInt128 Ip6(string text) => ToUInt128(IPAddress.Parse(text));
}
