using System.Text.Json;
using Boxes.Api.Auth;
using Boxes.Api.Errors;

namespace Boxes.Api.Admin;

/// <summary>The operator's routes: organisations, keys and plans. Authenticated with the operator key only.</summary>
public static class AdminEndpoints
{
    public static IEndpointRouteBuilder MapAdminEndpoints(this IEndpointRouteBuilder app)
    {
        var admin = app.MapGroup("/v1/admin");

        admin.MapPost("/organizations", async (HttpRequest request, ApiKeys keys, CancellationToken ct) =>
        {
            var (body, error) = await JsonBody.ReadObjectAsync(request, ct);
            if (error is not null) return error;
            if (!body.TryGetProperty("name", out var name) || name.ValueKind != JsonValueKind.String || name.GetString()!.Trim().Length == 0)
                return ApiError.Validation("name: a non-empty string is required.");
            if (name.GetString()!.Length > 200) return ApiError.Validation("name: at most 200 characters.");
            var (plan, planError) = ReadPlan(body, required: false);
            if (planError is not null) return planError;
            var (org, apiKey) = await keys.CreateOrganizationAsync(name.GetString()!.Trim(), plan ?? "free", ct);
            return Results.Json(new { id = org.Id, name = org.Name, plan = org.Plan, apiKey }, statusCode: 201);
        });

        admin.MapPost("/organizations/{id}/keys", async (string id, HttpRequest request, ApiKeys keys, CancellationToken ct) =>
        {
            if (!Guid.TryParse(id, out var orgId)) return ApiError.NotFound($"Organization {id}");
            var (body, error) = await JsonBody.ReadObjectAsync(request, ct);
            if (error is not null) return error;
            var permissions = new List<string>();
            if (body.TryGetProperty("permissions", out var p) && p.ValueKind != JsonValueKind.Null)
            {
                if (p.ValueKind != JsonValueKind.Array || p.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
                    return ApiError.Validation("permissions: an array of strings is expected.");
                permissions.AddRange(p.EnumerateArray().Select(x => x.GetString()!));
                // An unknown name would be a key that silently cannot do what its creator meant: refuse it, naming it.
                var unknown = permissions.FindIndex(name => !Permissions.IsKnown(name));
                if (unknown >= 0)
                    return ApiError.Validation($"permissions[{unknown}]: unknown permission {Fields.Shorten(JsonSerializer.Serialize(permissions[unknown]))}; " +
                                               $"expected any of {string.Join(", ", Permissions.Names)}, or \"{Permissions.All}\" for all (an empty list also means all).");
            }
            var created = await keys.CreateKeyAsync(orgId, permissions, ct);
            return created is { } c
                ? Results.Json(new { id = c.KeyId, apiKey = c.ApiKey, permissions }, statusCode: 201)
                : ApiError.NotFound($"Organization {id}");
        });

        admin.MapDelete("/keys/{id}", async (string id, ApiKeys keys, CancellationToken ct) =>
            Guid.TryParse(id, out var keyId) && await keys.RevokeKeyAsync(keyId, ct)
                ? Results.Json(new { id = keyId, revoked = true })
                : ApiError.NotFound($"Key {id}"));

        admin.MapPut("/organizations/{id}/plan", async (string id, HttpRequest request, ApiKeys keys, CancellationToken ct) =>
        {
            if (!Guid.TryParse(id, out var orgId)) return ApiError.NotFound($"Organization {id}");
            var (body, error) = await JsonBody.ReadObjectAsync(request, ct);
            if (error is not null) return error;
            var (plan, planError) = ReadPlan(body, required: true);
            if (planError is not null) return planError;
            return await keys.SetPlanAsync(orgId, plan!, ct)
                ? Results.Json(new { id = orgId, plan })
                : ApiError.NotFound($"Organization {id}");
        });

        // The usage feed across every organisation, from services/billing (Usage/UsageEndpoints.cs).
        admin.MapGet("/usage/export", Usage.UsageEndpoints.AdminExportAsync);
        return app;
    }

    private static (string? Plan, ApiError? Error) ReadPlan(JsonElement body, bool required)
    {
        if (!body.TryGetProperty("plan", out var plan) || plan.ValueKind == JsonValueKind.Null)
            return required ? (null, ApiError.Validation("plan: one of free, builder, pro, enterprise is required.")) : (null, null);
        if (plan.ValueKind != JsonValueKind.String || !PlanCatalog.Names.Contains(plan.GetString()))
            return (null, ApiError.Validation($"plan: must be one of free, builder, pro, enterprise (got {plan.GetRawText()})."));
        return (plan.GetString(), null);
    }
}
