using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace Boxes.Api.Tests;

/// <summary>
/// Stands in for services/billing's internal surface (docs/INTERNAL.md, "Billing") on 127.0.0.1, port 0: an organisation's
/// usage is whatever a test set with <see cref="SetVcpuSeconds"/> (0 otherwise), and the feed is a fixed page per cursor.
/// Its answers carry a <c>servedBy</c> field the real one does not, so tests can see that the API passes bodies through
/// rather than rebuilding them. Every request is recorded; one without the internal key is refused and counted.
/// </summary>
public sealed class FakeBilling : IAsyncDisposable
{
    /// <summary>How the fake misbehaves, for the tests of what the API does when the service does not keep its contract.</summary>
    public enum Behaviour { Normal, Hang, BareNotFound, UsageWithoutFigures }

    public sealed record Request(string Method, string Path, string Query, bool WithKey)
    {
        public string? QueryValue(string name) => QueryHelpers.ParseQuery(Query).TryGetValue(name, out var v) ? v.ToString() : null;
    }

    /// <summary>The cursor the fake hands out after a page read from <paramref name="after"/> (none: the start).</summary>
    public static string NextCursor(string? after) => $"fake+cursor/{(after is null ? 0 : after.Length)}=";

    private LoopbackServer _server = null!;
    private readonly ConcurrentQueue<Request> _requests = new();
    private readonly ConcurrentDictionary<Guid, double> _vcpuSeconds = new();

    private FakeBilling() { }

    public string Address => _server.Address;
    public Behaviour Mode { get; set; } = Behaviour.Normal;
    public IReadOnlyList<Request> Requests => [.. _requests];
    /// <summary>Requests that came without our internal key, less those a test sent so on purpose (<see cref="ForgetRequestsWithoutKey"/>).</summary>
    public int RequestsWithoutKey => _requests.Count(r => !r.WithKey) - _forgottenWithoutKey;

    /// <summary>For a test that sends a wrong key on purpose: those requests are not held against the API.</summary>
    public void ForgetRequestsWithoutKey() => _forgottenWithoutKey = _requests.Count(r => !r.WithKey);

    private int _forgottenWithoutKey;

    /// <summary>Requests for one organisation's usage figures (not its feed).</summary>
    public IReadOnlyList<Request> UsageRequests(Guid organizationId) =>
        [.. _requests.Where(r => r.Path == $"/internal/organizations/{organizationId}/usage")];

    public void SetVcpuSeconds(Guid organizationId, double vcpuSeconds) => _vcpuSeconds[organizationId] = vcpuSeconds;

    public static async Task<FakeBilling> StartAsync(string internalKey)
    {
        var fake = new FakeBilling();
        fake._server = await LoopbackServer.StartAsync(app => fake.Map(app, internalKey));
        return fake;
    }

    private void Map(WebApplication app, string internalKey)
    {
        app.Use(async (http, next) =>
        {
            var withKey = http.Request.Headers[InternalApi.HeaderName] == internalKey;
            _requests.Enqueue(new Request(http.Request.Method, http.Request.Path.Value!, http.Request.QueryString.Value ?? "", withKey));
            if (!withKey)
            {
                http.Response.StatusCode = 401;
                await http.Response.WriteAsJsonAsync(new { error = new { code = "UNAUTHENTICATED", message = "internal key required" } });
                return;
            }
            switch (Mode)
            {
                case Behaviour.Hang:
                    try { await Task.Delay(Timeout.Infinite, http.RequestAborted); } catch (OperationCanceledException) { }
                    return;
                case Behaviour.BareNotFound:
                    http.Response.StatusCode = 404; // what a billing service without these routes answers
                    return;
            }
            await next(http);
        });

        app.MapGet("/internal/organizations/{org:guid}/usage", (Guid org, string? from, string? to) =>
        {
            if (from == "yesterday") return Results.Json(new { error = new { code = "VALIDATION_FAILED", message = "from: must be an ISO 8601 time" } }, statusCode: 400);
            if (Mode == Behaviour.UsageWithoutFigures) return Results.Json(new { servedBy = "fake-billing" });
            var seconds = _vcpuSeconds.GetValueOrDefault(org);
            return Results.Json(new
            {
                totalSessions = 3,
                totalBrowserHours = 0.25,
                totalVcpuSeconds = seconds,
                byKind = new
                {
                    browser = new { sessions = 1, hours = 0.25, vcpuSeconds = 1800.0 },
                    sandbox = new { sessions = 2, hours = (seconds - 1800) / 7200, vcpuSeconds = seconds - 1800 },
                },
                period = new { from = from ?? "2026-01-01T00:00:00.000Z", to = to ?? "2026-02-01T00:00:00.000Z" },
                servedBy = "fake-billing",
            });
        });
        app.MapGet("/internal/organizations/{org:guid}/usage/export", (Guid org, HttpContext http) => Feed(http, org));
        app.MapGet("/internal/usage/export", (HttpContext http) => Feed(http, null));
    }

    /// <summary>Two records (an organisation's, or one of two organisations' each for the operator) in the asked format.</summary>
    private static IResult Feed(HttpContext http, Guid? org)
    {
        var after = http.Request.Query["after"].ToString();
        if (after == "not-ours") return Results.Json(new { error = new { code = "VALIDATION_FAILED", message = "after: is not a cursor this feed handed out" } }, statusCode: 400);
        var format = http.Request.Query["format"].ToString() is { Length: > 0 } f ? f : "ndjson";
        var orgs = org is { } o ? new[] { o, o } : [Guid.Parse("00000000-0000-0000-0000-00000000000a"), Guid.Parse("00000000-0000-0000-0000-00000000000b")];
        var text = new StringBuilder();
        if (format == "csv") text.Append("id,organizationId,boxId,kind,weight,size,start,end,vcpus,vcpuSeconds\n");
        for (var i = 0; i < 2; i++)
        {
            var id = $"00000000-0000-0000-0000-0000000000{i + 1:00}";
            if (format == "csv")
                text.Append(CultureInfo.InvariantCulture, $"{id},{orgs[i]},11111111-1111-1111-1111-111111111111,sandbox,,standard,2026-01-01T00:00:00.000Z,2026-01-01T00:01:00.000Z,2,120.000\n");
            else
                text.Append(CultureInfo.InvariantCulture, $"{{\"id\":\"{id}\",\"organizationId\":\"{orgs[i]}\",\"boxId\":\"11111111-1111-1111-1111-111111111111\",\"kind\":\"sandbox\",\"weight\":null,\"size\":\"standard\",\"start\":\"2026-01-01T00:00:00.000Z\",\"end\":\"2026-01-01T00:01:00.000Z\",\"vcpus\":2,\"vcpuSeconds\":120.000}}\n");
        }
        http.Response.Headers["X-Next-Cursor"] = NextCursor(after.Length == 0 ? null : after);
        return Results.Text(text.ToString(), format == "csv" ? "text/csv; charset=utf-8" : "application/x-ndjson; charset=utf-8");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
