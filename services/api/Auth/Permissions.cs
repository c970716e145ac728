namespace Boxes.Api.Auth;

/// <summary>
/// What an API key may do. A key's <c>permissions</c> is a list of these names; an empty list (what a new
/// organisation's first key gets) or <c>"*"</c> means every permission. Which route needs which is decided in one
/// place, <see cref="RoutePermissions"/>.
/// </summary>
public static class Permissions
{
    /// <summary>Every permission, now and later.</summary>
    public const string All = "*";

    public const string BrowsersRead = "browsers:read";
    public const string BrowsersWrite = "browsers:write";
    public const string SandboxesRead = "sandboxes:read";
    public const string SandboxesWrite = "sandboxes:write";
    /// <summary>exec, run-code, files and the terminal: running anything inside a sandbox.</summary>
    public const string SandboxesExec = "sandboxes:exec";
    public const string WebhooksManage = "webhooks:manage";
    /// <summary>Usage, the usage export and the billing overview.</summary>
    public const string BillingRead = "billing:read";
    /// <summary>Checkout: changing what the organisation pays for.</summary>
    public const string BillingWrite = "billing:write";

    /// <summary>Every permission a key can be given, in the order the error messages list them.</summary>
    public static readonly IReadOnlyList<string> Names =
        [BrowsersRead, BrowsersWrite, SandboxesRead, SandboxesWrite, SandboxesExec, WebhooksManage, BillingRead, BillingWrite];

    /// <summary>A name a key may carry: one of <see cref="Names"/> or <see cref="All"/>.</summary>
    public static bool IsKnown(string name) => name == All || Names.Contains(name, StringComparer.Ordinal);

    /// <summary>Whether the key grants <paramref name="permission"/>: it lists it, lists <c>"*"</c>, or lists nothing at all.</summary>
    public static bool Grants(this Caller caller, string permission) =>
        caller.Permissions.Count == 0 || caller.Permissions.Contains(All, StringComparer.Ordinal) || caller.Permissions.Contains(permission, StringComparer.Ordinal);
}
