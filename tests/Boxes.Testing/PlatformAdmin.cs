using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json.Nodes;

namespace Boxes.Testing;

/// <summary>An organisation the operator's route made: what <c>POST /v1/admin/organizations</c> answers.</summary>
public sealed record PlatformOrganization(string Id, string Name, string Plan, string ApiKey);

/// <summary>
/// The operator's side of the running platform (scripts/up.sh; BOXES_API_URL and BOXES_ADMIN_KEY from .run/env), for the
/// tests that run against it: each makes organisations of its own, so it neither leans on nor disturbs the shared
/// development organisation.
/// </summary>
public static class PlatformAdmin
{
    /// <summary>The platform's public API (BOXES_API_URL).</summary>
    public static Uri ApiUrl => new(Require("BOXES_API_URL"));

    /// <summary>A fresh organisation on <paramref name="plan"/>, named <paramref name="namePrefix"/> and a random suffix.</summary>
    public static async Task<PlatformOrganization> CreateOrganizationAsync(string plan, string namePrefix, CancellationToken cancellationToken = default)
    {
        using var admin = new HttpClient { BaseAddress = ApiUrl, Timeout = TimeSpan.FromSeconds(30) };
        admin.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", Require("BOXES_ADMIN_KEY"));
        using var response = await admin.PostAsJsonAsync("/v1/admin/organizations", new { name = $"{namePrefix}-{Guid.NewGuid():N}", plan }, cancellationToken);
        var body = await response.Content.ReadAsStringAsync(cancellationToken);
        if (!response.IsSuccessStatusCode)
            throw new InvalidOperationException($"Creating a {plan} organisation answered {(int)response.StatusCode}: {body}");
        var created = JsonNode.Parse(body) as JsonObject;
        string Field(string name) => created?[name] is JsonValue value && value.TryGetValue<string>(out var text)
            ? text
            : throw new InvalidOperationException($"Creating a {plan} organisation answered without {name}: {body}");
        return new PlatformOrganization(Field("id"), Field("name"), Field("plan"), Field("apiKey"));
    }

    private static string Require(string name) =>
        Environment.GetEnvironmentVariable(name) is { Length: > 0 } value
            ? value
            : throw new InvalidOperationException(
                $"Environment variable {name} is not set. The tests against the running platform read it from .run/env, which scripts/up.sh writes (scripts/test.sh loads it).");
}
