using Microsoft.AspNetCore.Routing.Patterns;

namespace Boxes.Api.Auth;

/// <summary>How a request to a route is authorised.</summary>
public enum RouteAuthorization
{
    /// <summary>An organisation's API key that grants <see cref="RouteRule.Permission"/>.</summary>
    ApiKey,
    /// <summary>The operator's key (every /v1/admin route).</summary>
    Operator,
    /// <summary>
    /// No API key: the request carries a credential of its own that the route checks (a session token in cdpUrl or
    /// terminalUrl, a signed download link, a Stripe signature). Not rate limited per key, since there is no key.
    /// </summary>
    OwnCredential,
}

public sealed record RouteRule(RouteAuthorization Authorization, string? Permission = null)
{
    public override string ToString() => Authorization == RouteAuthorization.ApiKey ? Permission! : Authorization.ToString();
}

/// <summary>
/// The one place that decides what every /v1 route needs, keyed by HTTP method and route pattern as mapped
/// (<c>*</c> for a route mapped for every method). The authentication step (<see cref="Authentication"/>) applies it
/// to the endpoint routing matched, before the handler runs, so a key without the permission is refused before any
/// box is looked up (it learns nothing about ids either). A /v1 route missing here fails closed: it is refused for
/// every key, and Boxes.Api.Tests names it.
/// </summary>
public static class RoutePermissions
{
    public const string AnyMethod = "*";

    private static RouteRule Key(string permission) => new(RouteAuthorization.ApiKey, permission);
    private static readonly RouteRule Operator = new(RouteAuthorization.Operator);
    private static readonly RouteRule OwnCredential = new(RouteAuthorization.OwnCredential);

    private static readonly Dictionary<(string Method, string Pattern), RouteRule> Table = new()
    {
        // Browser sessions. The CDP socket takes the session token in cdpUrl.
        [("POST", "/v1/browsers")] = Key(Permissions.BrowsersWrite),
        [("GET", "/v1/browsers")] = Key(Permissions.BrowsersRead),
        [("GET", "/v1/browsers/{id}")] = Key(Permissions.BrowsersRead),
        [("DELETE", "/v1/browsers/{id}")] = Key(Permissions.BrowsersWrite),
        [(AnyMethod, "/v1/browsers/{id}/cdp")] = OwnCredential,

        // Sandboxes: lifecycle, then running things inside one (exec, code, files, terminal).
        [("POST", "/v1/sandboxes")] = Key(Permissions.SandboxesWrite),
        [("GET", "/v1/sandboxes")] = Key(Permissions.SandboxesRead),
        [("GET", "/v1/sandboxes/{id}")] = Key(Permissions.SandboxesRead),
        [("DELETE", "/v1/sandboxes/{id}")] = Key(Permissions.SandboxesWrite),
        [("POST", "/v1/sandboxes/{id}/exec")] = Key(Permissions.SandboxesExec),
        [("POST", "/v1/sandboxes/{id}/run-code")] = Key(Permissions.SandboxesExec),
        [("GET", "/v1/sandboxes/{id}/fs/read")] = Key(Permissions.SandboxesExec),
        [("PUT", "/v1/sandboxes/{id}/fs/write")] = Key(Permissions.SandboxesExec),
        [("GET", "/v1/sandboxes/{id}/fs/list")] = Key(Permissions.SandboxesExec),
        [("GET", "/v1/sandboxes/{id}/terminal")] = Key(Permissions.SandboxesExec),
        [(AnyMethod, "/v1/sandboxes/{id}/terminal/ws")] = OwnCredential,
        [("POST", "/v1/sandboxes/{id}/pause")] = Key(Permissions.SandboxesWrite),
        [("POST", "/v1/sandboxes/{id}/resume")] = Key(Permissions.SandboxesWrite),
        [("POST", "/v1/sandboxes/{id}/checkpoint")] = Key(Permissions.SandboxesWrite),
        [("GET", "/v1/sandboxes/{id}/artifacts")] = Key(Permissions.SandboxesRead),
        [("GET", "/v1/sandboxes/{id}/artifacts/{key}/download-url")] = Key(Permissions.SandboxesRead),
        // Not built yet (501), but already guarded: watching a preview reads, the others drive the sandbox.
        [(AnyMethod, "/v1/sandboxes/{id}/preview/{**rest}")] = Key(Permissions.SandboxesRead),
        [(AnyMethod, "/v1/sandboxes/{id}/handoff/{**rest}")] = Key(Permissions.SandboxesExec),
        [(AnyMethod, "/v1/sandboxes/{id}/control/{**rest}")] = Key(Permissions.SandboxesExec),
        [(AnyMethod, "/v1/sandboxes/{id}/opencode/{**rest}")] = Key(Permissions.SandboxesExec),
        [(AnyMethod, "/v1/sandboxes/{id}/prompt/{**rest}")] = Key(Permissions.SandboxesExec),

        // The signed link that download-url hands out.
        [("GET", "/v1/artifacts/{key}/content")] = OwnCredential,

        // Webhooks: one permission for the whole surface (the list shows endpoints, the log shows payloads).
        [("POST", "/v1/webhooks")] = Key(Permissions.WebhooksManage),
        [("GET", "/v1/webhooks")] = Key(Permissions.WebhooksManage),
        [("GET", "/v1/webhooks/{id}")] = Key(Permissions.WebhooksManage),
        [("DELETE", "/v1/webhooks/{id}")] = Key(Permissions.WebhooksManage),
        [("POST", "/v1/webhooks/{id}/test")] = Key(Permissions.WebhooksManage),
        [("POST", "/v1/webhooks/{id}/rotate-secret")] = Key(Permissions.WebhooksManage),
        [("POST", "/v1/webhooks/{id}/enable")] = Key(Permissions.WebhooksManage),
        [("GET", "/v1/webhooks/{id}/deliveries")] = Key(Permissions.WebhooksManage),
        [("POST", "/v1/webhooks/{id}/deliveries/{deliveryId}/replay")] = Key(Permissions.WebhooksManage),

        // Usage and billing. The Stripe webhook carries Stripe's signature, checked by its route.
        [("GET", "/v1/usage")] = Key(Permissions.BillingRead),
        [("GET", "/v1/usage/export")] = Key(Permissions.BillingRead),
        [("GET", "/v1/billing")] = Key(Permissions.BillingRead),
        [("POST", "/v1/billing/checkout")] = Key(Permissions.BillingWrite),
        [("POST", "/v1/billing/stripe/webhook")] = OwnCredential,

        // The operator's routes (the operator key is required for anything under /v1/admin whatever this says).
        [("POST", "/v1/admin/organizations")] = Operator,
        [("POST", "/v1/admin/organizations/{id}/keys")] = Operator,
        [("DELETE", "/v1/admin/keys/{id}")] = Operator,
        [("PUT", "/v1/admin/organizations/{id}/plan")] = Operator,
        [("GET", "/v1/admin/usage/export")] = Operator,
    };

    /// <summary>The whole table, for tests and documentation.</summary>
    public static IReadOnlyDictionary<(string Method, string Pattern), RouteRule> Rules => Table;

    /// <summary>
    /// The rule for a request that routing matched to <paramref name="endpoint"/>: by the request's method when the
    /// route is mapped for given methods, by <see cref="AnyMethod"/> when it is mapped for all. Null when the route
    /// is not in the table.
    /// </summary>
    public static RouteRule? For(RouteEndpoint endpoint, string requestMethod)
    {
        var pattern = Pattern(endpoint.RoutePattern);
        var declared = endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods;
        var method = declared is null || declared.Count == 0 ? AnyMethod : requestMethod.ToUpperInvariant();
        return Table.GetValueOrDefault((method, pattern));
    }

    /// <summary>The method keys a route is looked up by: its declared methods, or <see cref="AnyMethod"/>.</summary>
    public static IReadOnlyList<string> MethodsOf(Endpoint endpoint) =>
        endpoint.Metadata.GetMetadata<IHttpMethodMetadata>()?.HttpMethods is { Count: > 0 } declared
            ? [.. declared.Select(m => m.ToUpperInvariant())]
            : [AnyMethod];

    /// <summary>A route pattern as this table spells it: a leading slash, no trailing one.</summary>
    public static string Pattern(RoutePattern pattern)
    {
        var raw = pattern.RawText ?? "";
        return "/" + raw.Trim('/');
    }
}
