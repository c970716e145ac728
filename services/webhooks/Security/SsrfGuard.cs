using System.Net;
using System.Net.Sockets;

namespace Boxes.Webhooks.Security;

/// <summary>What the guard decided about a host: the addresses that may be connected to, or why none may.</summary>
public sealed record GuardDecision(IReadOnlyList<IPAddress> Addresses, string? Refusal)
{
    public bool Allowed => Refusal is null;
    public static GuardDecision Refuse(string why) => new([], why);
}

/// <summary>
/// Keeps webhook deliveries away from the platform's own network. A URL must be http(s) without credentials; its
/// host is resolved by us and every address it resolves to must be a public unicast address (see
/// <see cref="AddressPolicy"/>) unless the operator's <see cref="AllowList"/> names the host or the address. It runs
/// when an endpoint is created and again on every connection (<see cref="GuardedConnector"/>), which connects only
/// to the addresses checked here: a name that resolves elsewhere the second time (DNS rebinding) is checked again
/// and never looked up behind our back.
/// </summary>
public sealed class SsrfGuard(AllowList allowList, IHostResolver resolver)
{
    public const int MaxUrlLength = 2048;
    private static readonly TimeSpan ResolveTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The checks that need no network: scheme, credentials, a host. Null when the URL may go on to <see cref="CheckHostAsync"/>.</summary>
    public static string? CheckUrlShape(string url, out Uri? uri)
    {
        uri = null;
        if (url.Length > MaxUrlLength) return $"must be at most {MaxUrlLength} characters";
        if (!Uri.TryCreate(url, UriKind.Absolute, out var parsed)) return "must be an absolute http or https URL";
        if (parsed.Scheme != Uri.UriSchemeHttp && parsed.Scheme != Uri.UriSchemeHttps) return $"must use http or https, not {parsed.Scheme}";
        if (parsed.UserInfo.Length > 0) return "must not carry a user name or password";
        if (parsed.IdnHost.Length == 0) return "must name a host";
        if (parsed.Fragment.Length > 0) return "must not have a fragment (#...)";
        if (NonStandardAddressSpelling(url, parsed) is { } spelling) return spelling;
        uri = parsed;
        return null;
    }

    /// <summary>
    /// An address written any other way than its standard form (2130706433, 0x7f.1, 0177.0.0.1, 127.1, fullwidth digits,
    /// a trailing dot) is how SSRF filters are evaded, and no genuine receiver is addressed so: it is refused outright,
    /// even where the allow-list names the address it means (the development allow-list is for http://127.0.0.1:port).
    /// System.Uri rewrites most of these into the dotted form, so the host is read from the text as written.
    /// </summary>
    private static string? NonStandardAddressSpelling(string url, Uri parsed)
    {
        if (!HostNames.TryParseAddress(parsed.IdnHost, out var address)) return null;
        var written = RawHost(url);
        if (written is null || written.StartsWith('[')) return null; // bracketed IPv6: its textual forms are all standard
        return string.Equals(written, address.ToString(), StringComparison.OrdinalIgnoreCase)
            ? null
            : $"the host {written} is a non-standard spelling of the address {address}; write IP addresses in dotted decimal";
    }

    /// <summary>The host exactly as the URL's text writes it (between "//" and the port, path, query or fragment).</summary>
    private static string? RawHost(string url)
    {
        var start = url.IndexOf("//", StringComparison.Ordinal);
        if (start < 0) return null;
        var authority = url[(start + 2)..];
        var end = authority.IndexOfAny(['/', '\\', '?', '#']);
        if (end >= 0) authority = authority[..end];
        var at = authority.LastIndexOf('@');
        if (at >= 0) authority = authority[(at + 1)..];
        if (authority.StartsWith('[')) return authority;
        var colon = authority.IndexOf(':', StringComparison.Ordinal);
        return colon >= 0 ? authority[..colon] : authority;
    }

    /// <summary>Resolves <paramref name="host"/> (unless it is an address) and checks every address.</summary>
    public async Task<GuardDecision> CheckHostAsync(string host, CancellationToken ct)
    {
        var name = HostNames.Normalize(host);
        IPAddress[] addresses;
        var isLiteral = HostNames.TryParseAddress(name, out var literal);
        if (isLiteral)
        {
            addresses = [literal];
        }
        else
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(ResolveTimeout);
                addresses = await resolver.ResolveAsync(name, timeout.Token);
            }
            catch (SocketException ex)
            {
                return GuardDecision.Refuse($"the host {name} could not be resolved ({ex.SocketErrorCode})");
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                return GuardDecision.Refuse($"the host {name} could not be resolved in {ResolveTimeout.TotalSeconds:0} s");
            }
            if (addresses.Length == 0) return GuardDecision.Refuse($"the host {name} resolves to no address");
        }

        if (allowList.AllowsName(name)) return new GuardDecision(addresses, null);
        foreach (var address in addresses)
        {
            if (allowList.Allows(address)) continue;
            if (AddressPolicy.WhyRefused(address) is { } why)
            {
                var what = !isLiteral ? $"{name} resolves to {address}, {why}"
                    : name == address.ToString() ? $"{address} is {why}"
                    : $"{name} means {address}, {why}";
                return GuardDecision.Refuse($"{what}; webhooks may not target private, loopback, link-local or reserved addresses");
            }
        }
        return new GuardDecision(addresses, null);
    }
}

/// <summary>A connection the guard refused: the attempt fails with this as its error, and nothing was sent.</summary>
public sealed class WebhookTargetRefusedException(string reason) : IOException($"Refused by the SSRF guard: {reason}.");
