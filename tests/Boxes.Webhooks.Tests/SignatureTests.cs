using Boxes.Webhooks.Signing;
using Boxes.Webhooks.Tests.Infrastructure;
using Xunit;

namespace Boxes.Webhooks.Tests;

/// <summary>The signing code against the independent verifier, and the verifier against the specification's own example.</summary>
public sealed class SignatureTests
{
    [Fact]
    public void The_independent_verifier_accepts_the_specifications_published_example()
    {
        // The example from the Standard Webhooks specification (and Svix's documentation of the same scheme).
        const string secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        const string id = "msg_p5jXN8AQM9LWM0D4loKWxJek";
        const string body = "{\"test\": 2432232314}";
        var sent = DateTimeOffset.FromUnixTimeSeconds(1614265330);
        Assert.True(StandardWebhooksVerifier.Verify(secret, id, "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", body, sent, out var why), why);
        Assert.False(StandardWebhooksVerifier.Verify(secret, id, "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", body + " ", sent, out _));
        Assert.False(StandardWebhooksVerifier.Verify(secret, id, "1614265330", "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=", body, sent.AddMinutes(6), out _));
    }

    [Fact]
    public void Our_signature_of_the_specifications_example_is_the_published_one() =>
        Assert.Equal("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            WebhookSignature.Sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, "{\"test\": 2432232314}"));

    [Fact]
    public void Secrets_are_whsec_and_base64_of_at_least_24_random_bytes()
    {
        var a = WebhookSignature.NewSecret();
        var b = WebhookSignature.NewSecret();
        Assert.StartsWith("whsec_", a);
        Assert.InRange(Convert.FromBase64String(a["whsec_".Length..]).Length, 24, 64);
        Assert.NotEqual(a, b);
    }

    [Fact]
    public void A_header_with_the_previous_secret_verifies_with_either_secret_and_no_other()
    {
        var current = WebhookSignature.NewSecret();
        var previous = WebhookSignature.NewSecret();
        var now = DateTimeOffset.UtcNow;
        var ts = now.ToUnixTimeSeconds();
        var header = WebhookSignature.Header(current, previous, "0b1c", ts, "{}");
        Assert.Equal(2, StandardWebhooksVerifier.Signatures(header).Count);
        var t = ts.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(StandardWebhooksVerifier.Verify(current, "0b1c", t, header, "{}", now, out _));
        Assert.True(StandardWebhooksVerifier.Verify(previous, "0b1c", t, header, "{}", now, out _));
        Assert.False(StandardWebhooksVerifier.Verify(WebhookSignature.NewSecret(), "0b1c", t, header, "{}", now, out _));
    }
}
