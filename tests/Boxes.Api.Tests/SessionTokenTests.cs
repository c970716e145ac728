using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Boxes.Api.Auth;
using Microsoft.Extensions.Options;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>Session tokens without I/O: scopes, expiry, and tokens issued before scopes existed.</summary>
public sealed class SessionTokenTests
{
    private static readonly byte[] Key = RandomNumberGenerator.GetBytes(32);
    private readonly ManualClock _clock = new();
    private SessionTokens Tokens() => new(Options.Create(new ApiOptions { TokenSigningKey = Convert.ToBase64String(Key) }), _clock);

    [Fact]
    public void A_token_opens_only_its_own_scope_and_box()
    {
        var tokens = Tokens();
        var (box, org) = (Guid.NewGuid(), Guid.NewGuid());
        var terminal = tokens.Issue(TokenScopes.Terminal, box, org, _clock.Now.AddHours(1));
        Assert.Equal((SessionTokens.Verdict.Valid, org), tokens.Validate(terminal, TokenScopes.Terminal, box));
        Assert.Equal(SessionTokens.Verdict.OtherScope, tokens.Validate(terminal, TokenScopes.Cdp, box).Verdict);
        Assert.Equal(SessionTokens.Verdict.OtherBox, tokens.Validate(terminal, TokenScopes.Terminal, Guid.NewGuid()).Verdict);
        var cdp = tokens.Issue(TokenScopes.Cdp, box, org, _clock.Now.AddHours(1));
        Assert.Equal(SessionTokens.Verdict.OtherScope, tokens.Validate(cdp, TokenScopes.Terminal, box).Verdict);
        _clock.Now = _clock.Now.AddHours(2);
        Assert.Equal(SessionTokens.Verdict.Expired, tokens.Validate(terminal, TokenScopes.Terminal, box).Verdict);
    }

    [Fact]
    public void A_token_issued_before_scopes_existed_still_opens_cdp_and_nothing_else()
    {
        var (box, org) = (Guid.NewGuid(), Guid.NewGuid());
        var payload = Encoding.ASCII.GetBytes($"{box:N}.{org:N}.{_clock.Now.AddHours(1).ToUnixTimeSeconds()}");
        var legacy = Base64Url.EncodeToString(payload) + "." + Base64Url.EncodeToString(HMACSHA256.HashData(Key, payload));
        var tokens = Tokens();
        Assert.Equal((SessionTokens.Verdict.Valid, org), tokens.Validate(legacy, TokenScopes.Cdp, box));
        Assert.Equal(SessionTokens.Verdict.OtherScope, tokens.Validate(legacy, TokenScopes.Terminal, box).Verdict);
    }

    [Fact]
    public void A_scope_changed_in_the_payload_breaks_the_signature()
    {
        var tokens = Tokens();
        var box = Guid.NewGuid();
        var cdp = tokens.Issue(TokenScopes.Cdp, box, Guid.NewGuid(), _clock.Now.AddHours(1));
        var dot = cdp.IndexOf('.', StringComparison.Ordinal);
        var payload = Encoding.ASCII.GetString(Base64Url.DecodeFromChars(cdp.AsSpan(0, dot)));
        var forged = Base64Url.EncodeToString(Encoding.ASCII.GetBytes(payload.Replace(".cdp", ".terminal"))) + cdp[dot..];
        Assert.Equal(SessionTokens.Verdict.BadSignature, tokens.Validate(forged, TokenScopes.Terminal, box).Verdict);
    }
}
