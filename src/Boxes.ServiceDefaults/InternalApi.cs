using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Boxes.ServiceDefaults;

/// <summary>
/// The services' internal HTTP surfaces (the worker's data plane, the artifacts store) are reached only by
/// other Boxes services, on the platform's private network. They also require the shared internal key
/// (<c>Boxes:InternalKey</c>) in <see cref="HeaderName"/>, so that a reachable port is not an open door.
/// </summary>
public static class InternalApi
{
    public const string HeaderName = "X-Boxes-Internal-Key";
    public const string ConfigKey = "Boxes:InternalKey";

    /// <summary>The configured internal key; a service that serves or calls internal routes cannot start without one.</summary>
    public static string Key(IConfiguration configuration) =>
        configuration[ConfigKey] is { Length: >= 16 } key
            ? key
            : throw new InvalidOperationException($"{ConfigKey} (env Boxes__InternalKey) must be set to a random string of at least 16 characters, the same for every service.");

    /// <summary>Requires the internal key on every route of the group; anything else gets 401 and touches nothing.</summary>
    public static TBuilder RequireInternalKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder
    {
        builder.AddEndpointFilter(async (context, next) =>
        {
            var http = context.HttpContext;
            var expected = Encoding.UTF8.GetBytes(Key(http.RequestServices.GetRequiredService<IConfiguration>()));
            var presented = Encoding.UTF8.GetBytes(http.Request.Headers[HeaderName].ToString());
            if (!CryptographicOperations.FixedTimeEquals(expected, presented))
                return Results.Json(new { error = new { code = "UNAUTHENTICATED", message = $"This internal route requires the {HeaderName} header." } }, statusCode: 401);
            return await next(context);
        });
        return builder;
    }

    /// <summary>
    /// Another service's base address from configuration (<paramref name="key"/>, else <paramref name="defaultAddress"/>),
    /// with a trailing slash so relative paths keep any prefix. Throws when it is not an http(s) URL, so a misconfigured
    /// service fails at startup rather than on its first call.
    /// </summary>
    public static Uri ServiceAddress(IConfiguration configuration, string key, string defaultAddress)
    {
        var address = configuration[key] is { Length: > 0 } a ? a : defaultAddress;
        if (!Uri.TryCreate(address.EndsWith('/') ? address : address + "/", UriKind.Absolute, out var baseAddress)
            || baseAddress.Scheme is not ("http" or "https"))
            throw new InvalidOperationException($"{key} (env {key.Replace(":", "__")}) must be an http(s) URL such as {defaultAddress}, not '{address}'.");
        return baseAddress;
    }

    /// <summary>Adds the internal key to every request of an <see cref="HttpClient"/> that calls another service.</summary>
    public static void Authorize(HttpClient http, IConfiguration configuration) =>
        http.DefaultRequestHeaders.Add(HeaderName, Key(configuration));
}
