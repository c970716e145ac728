using System.Security.Cryptography;
using System.Text;
using Boxes.Api.Auth;
using Boxes.Api.Errors;
using Microsoft.AspNetCore.Http.Features;

namespace Boxes.Api.Idempotency;

/// <summary>
/// <para>
/// Idempotency-Key. The creates (<c>POST /v1/browsers</c>, <c>/v1/sandboxes</c>, <c>/v1/webhooks</c>,
/// <c>/v1/billing/checkout</c>) accept an <c>Idempotency-Key</c> header (1 to 255 printable ASCII characters, scoped to
/// the organisation, remembered 24 hours). A retry with the same key and the same request gets the first answer again,
/// byte for byte, with <c>Idempotent-Replayed: true</c>, and creates nothing; the same key with another body or route is
/// <c>409 CONFLICT</c>. A retry arriving while the first is still running waits for it (up to 30 s, then 409). Answers of
/// 5xx are not remembered, so a retry after a server error runs again; other errors (a 400, a plan limit) are.
/// </para>
/// <para>
/// How: an endpoint filter (<see cref="IdempotencyEndpoints.WithIdempotency{TBuilder}"/>). Without the header it does
/// nothing (no database round trip). With it, it fingerprints the request (SHA-256 of method, route pattern, query and
/// body bytes), claims the key in <see cref="IdempotencyStore"/>, runs the handler, and stores what the handler's result
/// writes. A handler that can store the answer in its own transaction (the box create: <see cref="IdempotencyReservation.CompleteWithinAsync"/>
/// via <see cref="Of"/>) does, so a crash between creating and remembering cannot make a second box on retry. The webhook
/// create and the checkout happen in other services: for them a crash after the service acted and before the answer was
/// stored leaves the key pending, and the retry runs again after <see cref="IdempotencyTimings.AbandonedAfter"/> (the
/// checkout still reaches Stripe with the same derived key, so it gets the same session).
/// Rate limiting (429) happens in authentication, before this filter, so a refused request never touches the key.
/// </para>
/// </summary>
public sealed class IdempotencyFilter(IdempotencyStore store, ILogger<IdempotencyFilter> logger) : IEndpointFilter
{
    public const string HeaderName = "Idempotency-Key";
    public const int MaxKeyLength = 255;

    /// <summary>The key the running request holds, for a handler that stores its answer in its own transaction; null without the header.</summary>
    public static IdempotencyReservation? Of(HttpContext http) => http.Features.Get<IdempotencyReservation>();

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        var values = http.Request.Headers[HeaderName];
        if (values.Count == 0) return await next(context);
        if (Invalid(values) is { } invalid) return invalid;
        var key = values[0]!;
        var ct = http.RequestAborted;

        var (body, tooLarge) = await ReadBodyAsync(http.Request, ct);
        if (tooLarge is not null) return tooLarge;
        http.Request.Body = new MemoryStream(body, writable: false); // the handler reads it as if nothing had
        var route = http.GetEndpoint() is RouteEndpoint endpoint ? RoutePermissions.Pattern(endpoint.RoutePattern) : http.Request.Path.Value ?? "";
        var hash = Fingerprint(http.Request.Method, route, http.Request.QueryString.Value, body);

        var claim = await store.ClaimAsync(http.Caller().OrganizationId, key, hash, ct);
        IdempotencyReservation reservation;
        switch (claim)
        {
            case Claim.Finished finished:
                return finished.Answer with { Replayed = true };
            case Claim.UsedForAnotherRequest:
                return ApiError.Conflict($"{HeaderName}: \"{key}\" was already used for a different request (another body or route) in the last " +
                                         $"{store.Timings.Retention.TotalHours:0.#} hours; send a new key for a new request.");
            case Claim.StillInProgress:
                return InProgress(key);
            case Claim.Reserved reserved:
                reservation = reserved.Reservation;
                break;
            default:
                throw new InvalidOperationException($"Unexpected claim {claim}.");
        }

        StoredAnswer answer;
        http.Features.Set(reservation);
        try
        {
            var result = await next(context);
            if (reservation.Completed) return result; // the handler stored it with what it created
            answer = await CaptureAsync(http, result);
        }
        catch (IdempotencyReservationLostException)
        {
            // The handler's transaction rolled back; the request that took the key over does the work.
            return InProgress(key);
        }
        catch
        {
            // Nothing is remembered for a crash (nor a client that went away): a retry runs afresh.
            await store.ReleaseAsync(reservation, CancellationToken.None);
            throw;
        }
        finally
        {
            http.Features.Set<IdempotencyReservation>(null);
        }

        // Not for the client's sake (it may have gone): what the handler did is done, a retry must see its answer.
        if (answer.StatusCode >= 500 || answer.StatusCode == StatusCodes.Status429TooManyRequests)
            await store.ReleaseAsync(reservation, CancellationToken.None);
        else if (!await store.CompleteAsync(reservation, answer, null, CancellationToken.None))
            logger.LogWarning("{Method} {Route} with Idempotency-Key {Key} finished after another request took the key over; its answer is not stored",
                http.Request.Method, route, key);
        return answer;
    }

    /// <summary>SHA-256 over the method, route pattern, query string and body bytes: what makes two requests "the same request".</summary>
    public static byte[] Fingerprint(string method, string route, string? query, ReadOnlySpan<byte> body)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(Encoding.UTF8.GetBytes($"{method.ToUpperInvariant()}\n{route}\n{query}\n"));
        sha.AppendData(body);
        return sha.GetHashAndReset();
    }

    private static ApiError InProgress(string key) =>
        ApiError.Conflict($"{HeaderName}: a request with \"{key}\" is still in progress; retry shortly for its answer.");

    /// <summary>One value of 1 to 255 printable ASCII characters (space to tilde), or why not.</summary>
    public static ApiError? Invalid(Microsoft.Extensions.Primitives.StringValues values)
    {
        if (values.Count > 1) return ApiError.Validation($"{HeaderName}: send one value, not {values.Count}.");
        var key = values[0] ?? "";
        if (key.Length is 0 or > MaxKeyLength)
            return ApiError.Validation($"{HeaderName}: 1 to {MaxKeyLength} printable ASCII characters (got {key.Length}).");
        for (var i = 0; i < key.Length; i++)
            if (key[i] is < ' ' or > '~')
                return ApiError.Validation($"{HeaderName}: only printable ASCII characters (space to ~); character {i + 1} is U+{(int)key[i]:X4}.");
        return null;
    }

    /// <summary>The whole body, at most <see cref="JsonBody.MaxBytes"/> (what every create accepts), or the same 413 the handler would answer.</summary>
    private static async Task<(byte[] Body, ApiError? TooLarge)> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        var tooLarge = new ApiError(413, "VALIDATION_FAILED", $"The request body is larger than the {JsonBody.MaxBytes / (1024 * 1024)} MiB limit.");
        if (request.ContentLength > JsonBody.MaxBytes) return ([], tooLarge);
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > JsonBody.MaxBytes) return ([], tooLarge);
            buffer.Write(chunk, 0, read);
        }
        return (buffer.ToArray(), null);
    }

    /// <summary>
    /// Runs the handler's result against a buffer instead of the connection (the response has not started), and takes
    /// what it wrote: the status, content type and body that are stored and then sent.
    /// </summary>
    private static async Task<StoredAnswer> CaptureAsync(HttpContext http, object? result)
    {
        var executable = result switch
        {
            IResult r => r,
            null => Results.Empty,
            string text => Results.Text(text),
            _ => Results.Json(result),
        };
        var original = http.Features.Get<IHttpResponseBodyFeature>()!;
        using var buffer = new MemoryStream();
        var capture = new StreamResponseBodyFeature(buffer, original);
        http.Features.Set<IHttpResponseBodyFeature>(capture);
        try
        {
            await executable.ExecuteAsync(http);
            await capture.CompleteAsync();
        }
        finally
        {
            http.Features.Set(original);
        }
        return new StoredAnswer(http.Response.StatusCode, http.Response.ContentType, buffer.ToArray());
    }
}

public static class IdempotencyEndpoints
{
    /// <summary>The store and the filter, one per application (<c>Idempotency:*</c> timings read once at startup).</summary>
    public static IServiceCollection AddIdempotency(this IServiceCollection services)
    {
        services.AddSingleton(sp => IdempotencyTimings.From(sp.GetRequiredService<IConfiguration>()));
        services.AddSingleton<IdempotencyStore>();
        services.AddSingleton<IdempotencyFilter>();
        return services;
    }

    /// <summary>Honours <c>Idempotency-Key</c> on this route (see <see cref="IdempotencyFilter"/>). For creates only: routes that take a JSON body of at most 1 MiB.</summary>
    public static TBuilder WithIdempotency<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilterFactory((factory, next) =>
        {
            var filter = factory.ApplicationServices.GetRequiredService<IdempotencyFilter>();
            return invocation => filter.InvokeAsync(invocation, next);
        });
}
