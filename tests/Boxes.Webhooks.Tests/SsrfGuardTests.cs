using System.Net;
using Boxes.Webhooks.Security;
using Boxes.Webhooks.Tests.Infrastructure;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>The SSRF guard's rules, without a network: which addresses are refused, how hosts are read, what the allow-list lets through.</summary>
public sealed class SsrfGuardTests
{
    public static TheoryData<string> RefusedAddresses() =>
    [
        "0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.127.255.254", "127.0.0.1", "127.255.0.1",
        "169.254.169.254", "169.254.0.1", "172.16.0.1", "172.31.255.255", "192.0.0.8", "192.0.2.10", "192.168.0.1",
        "198.18.0.1", "198.19.255.255", "198.51.100.7", "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1",
        "255.255.255.255",
        "::", "::1", "fe80::1", "febf::1", "fc00::1", "fd00::1", "fd00:ec2::254", "ff02::1", "ff05::2", "fec0::1",
        "100::1", "2001:db8::1", "2001::1", "3fff::1",
        // IPv4 inside IPv6: mapped, compatible, translated, NAT64 (well-known and local-use), 6to4.
        "::ffff:127.0.0.1", "::ffff:7f00:1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:192.168.1.1",
        "::127.0.0.1", "::10.1.2.3", "::ffff:0:127.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b::a00:1", "64:ff9b::169.254.169.254",
        "64:ff9b:1::8.8.8.8", "2002:7f00:1::1", "2002:a9fe:a9fe::1",
    ];

    public static TheoryData<string> PublicAddresses() =>
    [
        "8.8.8.8", "1.1.1.1", "93.184.216.34", "100.63.255.255", "100.128.0.1", "172.15.255.255", "172.32.0.1",
        "169.253.255.255", "192.0.1.1", "192.167.0.1", "198.17.255.255", "198.20.0.1", "223.255.255.255",
        "2606:4700:4700::1111", "2a00:1450:4001:80b::200e", "::ffff:8.8.8.8", "64:ff9b::8.8.8.8", "2002:808:808::1",
    ];

    [Theory]
    [MemberData(nameof(RefusedAddresses))]
    public void Private_loopback_link_local_and_reserved_addresses_are_refused(string address) =>
        Assert.NotNull(AddressPolicy.WhyRefused(IPAddress.Parse(address)));

    [Theory]
    [MemberData(nameof(PublicAddresses))]
    public void Public_unicast_addresses_are_allowed(string address) =>
        Assert.Null(AddressPolicy.WhyRefused(IPAddress.Parse(address)));

    [Theory]
    [InlineData("127.0.0.1", "127.0.0.1")]
    [InlineData("2130706433", "127.0.0.1")]
    [InlineData("0x7f000001", "127.0.0.1")]
    [InlineData("0x7F000001", "127.0.0.1")]
    [InlineData("0177.0.0.1", "127.0.0.1")]
    [InlineData("017700000001", "127.0.0.1")]
    [InlineData("127.1", "127.0.0.1")]
    [InlineData("127.0.1", "127.0.0.1")]
    [InlineData("0x7f.1", "127.0.0.1")]
    [InlineData("0x7f.0.0.1", "127.0.0.1")]
    [InlineData("127.000.000.001", "127.0.0.1")]
    [InlineData("127.0.0.1.", "127.0.0.1")]
    [InlineData("0", "0.0.0.0")]
    [InlineData("0xa9fea9fe", "169.254.169.254")]
    [InlineData("2852039166", "169.254.169.254")]
    [InlineData("[::1]", "::1")]
    [InlineData("[::ffff:127.0.0.1]", "::ffff:127.0.0.1")]
    [InlineData("[fd00:ec2::254]", "fd00:ec2::254")]
    public void Every_spelling_of_an_address_is_read_as_that_address(string host, string address)
    {
        Assert.True(HostNames.TryParseAddress(host, out var parsed), $"{host} was not read as an address");
        Assert.Equal(IPAddress.Parse(address), parsed);
        Assert.NotNull(AddressPolicy.WhyRefused(parsed));
    }

    [Theory]
    [InlineData("example.com")]
    [InlineData("hooks.example.com.")]
    [InlineData("1.2.3.4.5")]
    [InlineData("localhost")]
    public void Names_are_not_read_as_addresses(string host) => Assert.False(HostNames.TryParseAddress(host, out _));

    [Theory]
    [InlineData("http://2130706433/")]
    [InlineData("http://0x7f000001/")]
    [InlineData("http://0177.0.0.1/")]
    [InlineData("http://127.1/")]
    [InlineData("http://0x7f.1/")]
    [InlineData("http://[::ffff:127.0.0.1]/")]
    [InlineData("http://[::ffff:7f00:1]/")]
    [InlineData("http://169.254.169.254/latest/meta-data/")]
    [InlineData("http://[fd00:ec2::254]/")]
    [InlineData("http://100.64.0.1/")]
    [InlineData("http://10.0.0.1:8080/hook")]
    [InlineData("https://[fe80::1%25eth0]/")]
    [InlineData("http://\\uFF11\\uFF12\\uFF17.\\uFF10.\\uFF10.\\uFF11/")]
    [InlineData("http://127\\u30020\\u30020\\u30021/")]
    public async Task Urls_with_refused_addresses_in_any_spelling_are_refused(string url)
    {
        // Refused by the shape check (a non-standard spelling) or else by the address the host is or resolves to.
        url = System.Text.RegularExpressions.Regex.Unescape(url);
        if (SsrfGuard.CheckUrlShape(url, out var uri) is not null) return;
        var decision = await new SsrfGuard(AllowList.Empty, new SwitchableResolver()).CheckHostAsync(uri!.IdnHost, CancellationToken.None);
        Assert.False(decision.Allowed, $"{url} was allowed");
    }

    [Theory]
    [InlineData("ftp://example.com/", "http or https")]
    [InlineData("file:///etc/passwd", "http or https")]
    [InlineData("gopher://example.com/", "http or https")]
    [InlineData("javascript:alert(1)", "http or https")]
    [InlineData("/relative/path", "http or https")] // an absolute file: URI on Unix
    [InlineData("http://user:secret@example.com/", "user name or password")]
    [InlineData("http://user@example.com/", "user name or password")]
    [InlineData("http://example.com/#fragment", "fragment")]
    public void Urls_that_are_not_plain_http_or_https_are_refused(string url, string why) =>
        Assert.Contains(why, SsrfGuard.CheckUrlShape(url, out _));

    [Fact]
    public async Task A_name_is_refused_when_any_of_its_addresses_is_refused()
    {
        var resolver = new SwitchableResolver();
        resolver.Set("mixed.test", IPAddress.Parse("93.184.216.34"), IPAddress.Parse("10.0.0.5"));
        resolver.Set("public.test", IPAddress.Parse("93.184.216.34"), IPAddress.Parse("2606:2800:220:1::1"));
        var guard = new SsrfGuard(AllowList.Empty, resolver);

        var mixed = await guard.CheckHostAsync("mixed.test", CancellationToken.None);
        Assert.False(mixed.Allowed);
        Assert.Contains("10.0.0.5", mixed.Refusal);
        Assert.True((await guard.CheckHostAsync("public.test", CancellationToken.None)).Allowed);
    }

    [Fact]
    public async Task A_name_that_resolves_to_nothing_is_refused()
    {
        var resolver = new SwitchableResolver();
        resolver.Set("empty.test");
        var decision = await new SsrfGuard(AllowList.Empty, resolver).CheckHostAsync("empty.test", CancellationToken.None);
        Assert.False(decision.Allowed);
        Assert.Contains("no address", decision.Refusal);
    }

    [Fact]
    public async Task The_allow_list_lets_named_ranges_and_hosts_through_and_nothing_else()
    {
        var resolver = new SwitchableResolver();
        resolver.Set("internal.test", IPAddress.Parse("10.1.2.3"));
        resolver.Set("other.test", IPAddress.Parse("10.9.9.9"));
        var guard = new SsrfGuard(new AllowList(["127.0.0.1/32", "internal.test", "fd12::/16"]), resolver);

        Assert.True((await guard.CheckHostAsync("127.0.0.1", CancellationToken.None)).Allowed);
        Assert.False((await guard.CheckHostAsync("[::ffff:127.0.0.1]", CancellationToken.None)).Allowed);
        Assert.True((await guard.CheckHostAsync("INTERNAL.test.", CancellationToken.None)).Allowed);
        Assert.True((await guard.CheckHostAsync("[fd12::7]", CancellationToken.None)).Allowed);
        Assert.False((await guard.CheckHostAsync("127.0.0.2", CancellationToken.None)).Allowed);
        Assert.False((await guard.CheckHostAsync("other.test", CancellationToken.None)).Allowed);
        Assert.False((await guard.CheckHostAsync("[fd13::7]", CancellationToken.None)).Allowed);
        Assert.False((await guard.CheckHostAsync("169.254.169.254", CancellationToken.None)).Allowed);
    }

    [Theory]
    [InlineData("http://2130706433/", "127.0.0.1")]
    [InlineData("http://0x7f000001:8080/hook", "127.0.0.1")]
    [InlineData("http://0177.0.0.1/", "127.0.0.1")]
    [InlineData("http://127.1/", "127.0.0.1")]
    [InlineData("http://0x7f.1/", "127.0.0.1")]
    [InlineData("http://127.000.000.001/", "127.0.0.1")]
    [InlineData("http://127.0.0.1./", "127.0.0.1")]
    [InlineData("http://127\u30020\u30020\u30021/", "127.0.0.1")]
    [InlineData("http://2852039166/", "169.254.169.254")]
    [InlineData("http://0251.0376.0251.0376/", "169.254.169.254")]
    [InlineData("http://0xa9fea9fe/", "169.254.169.254")]
    public void A_non_standard_spelling_of_an_address_is_refused_whatever_the_allow_list_says(string url, string address)
    {
        var why = SsrfGuard.CheckUrlShape(System.Text.RegularExpressions.Regex.Unescape(url), out _);
        Assert.NotNull(why);
        Assert.Contains(address, why);
    }

    [Theory]
    [InlineData("http://127.0.0.1:5000/hook")]
    [InlineData("https://93.184.216.34/hook")]
    [InlineData("http://[::1]:5000/")]
    [InlineData("http://[0:0:0:0:0:0:0:1]/")]
    [InlineData("https://hooks.example.com/x?y=1")]
    [InlineData("HTTP://127.0.0.1/")]
    public void Addresses_in_their_standard_form_and_names_pass_the_shape_check(string url) =>
        Assert.Null(SsrfGuard.CheckUrlShape(url, out _));

    [Theory]
    [InlineData("10.0.0.0/33")]
    [InlineData("not a host/8")]
    [InlineData("::1/129")]
    public void A_malformed_allow_list_entry_stops_the_service_from_starting(string entry) =>
        Assert.Throws<FormatException>(() => new AllowList([entry]));
}
