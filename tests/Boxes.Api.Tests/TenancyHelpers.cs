using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Boxes.Api.Auth;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>One /v1 route as the running app maps it: a method key (<c>*</c> for every method) and its pattern.</summary>
public sealed record MappedRoute(string Method, string Pattern, RouteEndpoint Endpoint)
{
    public override string ToString() => $"{Method} {Pattern}";

    /// <summary>The route's parameters by name: <c>{id}</c>, <c>{key}</c>, <c>{**rest}</c>...</summary>
    public IReadOnlyList<string> Parameters => [.. Endpoint.RoutePattern.Parameters.Select(p => p.Name)];

    /// <summary>The path with each parameter replaced by what <paramref name="value"/> gives for its name.</summary>
    public string Path(Func<string, string> value) =>
        "/" + string.Join('/', Endpoint.RoutePattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            Microsoft.AspNetCore.Routing.Patterns.RoutePatternLiteralPart literal => literal.Content,
            Microsoft.AspNetCore.Routing.Patterns.RoutePatternParameterPart parameter => Uri.EscapeDataString(value(parameter.Name)),
            _ => throw new InvalidOperationException($"{this}: a route part this test does not know how to fill"),
        }))));
}

public static class TenancyHelpers
{
    /// <summary>Every /v1 route the app maps, read from its EndpointDataSource: what the tests cover is what exists.</summary>
    public static IReadOnlyList<MappedRoute> V1Routes(IServiceProvider services) =>
    [
        .. services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Select(e => (Endpoint: e, Pattern: RoutePermissions.Pattern(e.RoutePattern)))
            .Where(e => e.Pattern == "/v1" || e.Pattern.StartsWith("/v1/", StringComparison.Ordinal))
            .SelectMany(e => RoutePermissions.MethodsOf(e.Endpoint).Select(m => new MappedRoute(m, e.Pattern, e.Endpoint)))
            .OrderBy(r => r.Pattern, StringComparer.Ordinal).ThenBy(r => r.Method, StringComparer.Ordinal),
    ];

    /// <summary>The method to send for a route key (a route mapped for every method is tried with GET).</summary>
    public static HttpMethod SendMethod(MappedRoute route) => route.Method == RoutePermissions.AnyMethod ? HttpMethod.Get : new HttpMethod(route.Method);

    /// <summary>A request to the route with a JSON body for the methods that take one.</summary>
    public static HttpRequestMessage Request(MappedRoute route, string path)
    {
        var method = SendMethod(route);
        var request = new HttpRequestMessage(method, path);
        if (method == HttpMethod.Post || method == HttpMethod.Put)
            request.Content = new StringContent("{}", System.Text.Encoding.UTF8, "application/json");
        return request;
    }

    /// <summary>Another key for an organisation through the operator route, with these permissions.</summary>
    public static async Task<(Guid Id, string Key)> CreateKey(ApiHost host, Guid organizationId, params string[] permissions)
    {
        var res = await host.Client(ApiHost.AdminKey).PostAsJsonAsync($"/v1/admin/organizations/{organizationId}/keys", new { permissions });
        var body = JsonNode.Parse(await res.Content.ReadAsStringAsync())!;
        Assert.True(res.IsSuccessStatusCode, $"creating a key with [{string.Join(", ", permissions)}] answered {(int)res.StatusCode}: {body.ToJsonString()}");
        return (Guid.Parse(body["id"]!.GetValue<string>()), body["apiKey"]!.GetValue<string>());
    }

    /// <summary>The answer's JSON object; an empty one for a body that is not one (a file, an NDJSON export), which carries no error code.</summary>
    public static async Task<JsonObject> Json(HttpResponseMessage res)
    {
        var text = await res.Content.ReadAsStringAsync();
        try
        {
            return text.Length == 0 ? new JsonObject() : JsonNode.Parse(text) as JsonObject ?? new JsonObject();
        }
        catch (System.Text.Json.JsonException)
        {
            return new JsonObject();
        }
    }

    public static string? ErrorCode(JsonObject body) => body["error"]?["code"]?.GetValue<string>();
    public static string? ErrorMessage(JsonObject body) => body["error"]?["message"]?.GetValue<string>();

    /// <summary>True for a 403 PERMISSION_DENIED answer.</summary>
    public static async Task<bool> IsPermissionDenied(HttpResponseMessage res) =>
        res.StatusCode == System.Net.HttpStatusCode.Forbidden && ErrorCode(await Json(res)) == "PERMISSION_DENIED";

    public static string StatusOf(HttpResponseMessage res) => $"{(int)res.StatusCode} {res.StatusCode}";
}
