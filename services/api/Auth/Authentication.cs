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
/// Authenticates every /v1 route: the operator key on /v1/admin, an organisation's key elsewhere. The CDP and
/// terminal sockets and artifact downloads are the exceptions: they carry a session token or a signature instead,
/// checked by the route itself.
/// </summary>
public static class Authentication
{
    private const string CallerKey = "boxes.caller";

    public static Caller Caller(this HttpContext http) => (Caller)http.Items[CallerKey]!;

    public static IApplicationBuilder UseApiAuthentication(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        var path = http.Request.Path;
        if (!path.StartsWithSegments("/v1") || CarriesItsOwnCredential(path))
        {
            await next(http);
            return;
        }
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
        var caller = presented is null ? null : await http.RequestServices.GetRequiredService<ApiKeys>().AuthenticateAsync(presented, http.RequestAborted);
        if (caller is null)
        {
            await ApiError.Unauthenticated(presented is null
                ? "Missing API key: send Authorization: Bearer br_live_..."
                : "Unknown or revoked API key.").ExecuteAsync(http);
            return;
        }
        http.Items[CallerKey] = caller;
        await next(http);
    });

    /// <summary>
    /// Routes a client reaches with a URL the API handed out, never with the API key: the CDP and terminal
    /// WebSockets (a session token, checked by their proxies) and artifact downloads (a signed link).
    /// </summary>
    private static bool CarriesItsOwnCredential(PathString path) =>
        (path.StartsWithSegments("/v1/browsers") && path.Value!.EndsWith("/cdp", StringComparison.Ordinal))
        || (path.StartsWithSegments("/v1/sandboxes") && path.Value!.EndsWith("/terminal/ws", StringComparison.Ordinal))
        || (path.StartsWithSegments("/v1/artifacts") && path.Value!.EndsWith("/content", StringComparison.Ordinal));

    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && header.Length > 7 ? header[7..].Trim() : null;
    }
}
