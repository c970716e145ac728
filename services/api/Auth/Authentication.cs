using System.Security.Cryptography;
using System.Text;
using Boxes.Api.Errors;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Auth;

public sealed class ApiOptions
{
    /// <summary>The operator's key for /v1/admin routes. Never an organisation's key.</summary>
    public string AdminKey { get; set; } = "";
    /// <summary>Base64, at least 32 bytes: signs the session-scoped tokens in cdpUrl and terminalUrl, and artifact download links.</summary>
    public string TokenSigningKey { get; set; } = "";
    /// <summary>The API's public address, from which cdpUrl, terminalUrl and download links are built.</summary>
    public string PublicUrl { get; set; } = "http://127.0.0.1:8080";
    /// <summary>How long an exec, run-code or fs request waits for a sandbox that is still starting before it answers 503.</summary>
    public TimeSpan SandboxStartWait { get; set; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Authenticates and authorises every /v1 route, in this order: the operator key on /v1/admin; nothing for the routes
/// that carry a credential of their own (<see cref="RouteAuthorization.OwnCredential"/>: the CDP and terminal sockets,
/// artifact downloads, the Stripe webhook), which their handlers check; otherwise an organisation's unrevoked key
/// (401), its rate limit (429 RATE_LIMITED with Retry-After), and the permission <see cref="RoutePermissions"/> names
/// for the route (403 PERMISSION_DENIED, before the handler runs, so nothing is looked up or changed).
/// Keys are read from the database on every request, uncached: a revoked key (DELETE /v1/admin/keys/{id}) or a new
/// plan is in force on the very next request on every API replica, for the price of one indexed lookup.
/// Routing runs before this step (WebApplication puts it first), so the matched endpoint is known here.
/// </summary>
public static class Authentication
{
    private const string CallerKey = "boxes.caller";

    public static Caller Caller(this HttpContext http) => (Caller)http.Items[CallerKey]!;

    public static IApplicationBuilder UseApiAuthentication(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var path = http.Request.Path;
        if (!path.StartsWithSegments("/v1"))
        {
            await next(http);
            return;
        }
        var route = http.GetEndpoint() as RouteEndpoint;
        var rule = route is null ? null : RoutePermissions.For(route, http.Request.Method);
        var presented = BearerToken(http.Request);
        if (path.StartsWithSegments("/v1/admin"))
        {
            var adminKey = http.RequestServices.GetRequiredService<IOptions<ApiOptions>>().Value.AdminKey;
            if (presented is null || adminKey.Length == 0 ||
                !CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(adminKey)))
            {
                await ApiError.Unauthenticated("The operator key is required for admin routes: Authorization: Bearer <BOXES_ADMIN_KEY>.").ExecuteAsync(http);
                return;
            }
            await next(http);
            return;
        }
        if (rule?.Authorization == RouteAuthorization.OwnCredential)
        {
            await next(http);
            return;
        }
        var caller = presented is null ? null : await http.RequestServices.GetRequiredService<ApiKeys>().AuthenticateAsync(presented, http.RequestAborted);
        if (caller is null)
        {
            await ApiError.Unauthenticated(presented is null
                ? "Missing API key: send Authorization: Bearer br_live_..."
                : "Unknown or revoked API key.").ExecuteAsync(http);
            return;
        }
        var limiter = http.RequestServices.GetRequiredService<KeyRateLimiter>();
        var (allowed, retryAfter) = limiter.TryAcquire(caller);
        if (!allowed)
        {
            var (perSecond, burst) = limiter.LimitFor(caller);
            await new ApiError(429, "RATE_LIMITED",
                $"Too many requests with this API key (at most {burst} at once, then {perSecond} per second); retry after {retryAfter} s.")
            { RetryAfterSeconds = retryAfter }.ExecuteAsync(http);
            return;
        }
        // No endpoint (an unknown route answers 404, a known one with another method 405): nothing runs, nothing to guard.
        if (route is not null && Refusal(route, rule, caller, http) is { } refused)
        {
            await refused.ExecuteAsync(http);
            return;
        }
        http.Items[CallerKey] = caller;
        await next(http);
    });

    /// <summary>Why the caller may not use this route, or null when it may. A route missing from the table is refused (fail closed).</summary>
    private static ApiError? Refusal(RouteEndpoint route, RouteRule? rule, Caller caller, HttpContext http)
    {
        string What() => $"{http.Request.Method} {RoutePermissions.Pattern(route.RoutePattern)}";
        if (rule is not { Authorization: RouteAuthorization.ApiKey, Permission: { } permission })
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Boxes.Api.Auth")
                .LogError("{Route} has no API-key permission in RoutePermissions ({Rule}): refused", What(), rule?.ToString() ?? "missing");
            return ApiError.PermissionDenied($"{What()} is not open to API keys: no permission is defined for it.");
        }
        return caller.Grants(permission)
            ? null
            : ApiError.PermissionDenied($"This API key lacks the {permission} permission, which {What()} requires.");
    }

    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }
}
