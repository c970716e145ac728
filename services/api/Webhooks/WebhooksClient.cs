using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Api.Errors;
using Boxes.Api.Sandboxes;
using Boxes.ServiceDefaults;

namespace Boxes.Api.Webhooks;

/// <summary>
/// The API's client for the webhooks service's internal surface (docs/INTERNAL.md, "Webhooks"): every route is
/// <c>internal/organizations/{org}/webhooks...</c> with the caller's organisation in the path, so the service scopes
/// each request and another organisation's webhook is as unknown as a missing one. Answers come back as the same
/// pass-through the worker's data plane uses (<see cref="WorkerDataPlane.Answer"/>): the service's status and JSON
/// body as they are, or <c>502 UPSTREAM_UNAVAILABLE</c> when it cannot be reached or does not answer in time.
/// </summary>
public sealed class WebhooksClient(HttpClient http, ILogger<WebhooksClient> logger)
{
    public const string AddressKey = "Webhooks:Address";
    public const string DefaultAddress = "http://127.0.0.1:8084";
    public const string TimeoutKey = "Webhooks:Timeout";
    /// <summary>Every route is a few rows of PostgreSQL (a test delivery is queued, not sent, before it answers).</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>A page of deliveries with their attempts is tens of kilobytes; anything near this is not the service talking.</summary>
    private const int MaxAnswerBytes = 8 * 1024 * 1024;

    /// <summary>The service's address (<c>Webhooks:Address</c>) with a trailing slash; throws when it is not an http(s) URL.</summary>
    public static Uri Address(IConfiguration configuration) => InternalApi.ServiceAddress(configuration, AddressKey, DefaultAddress);

    public static void Configure(HttpClient http, IConfiguration configuration)
    {
        http.BaseAddress = Address(configuration);
        // The whole exchange is bounded, body included: answers are read in full (they are small) before they are passed on.
        http.Timeout = configuration.GetValue<TimeSpan?>(TimeoutKey) ?? DefaultTimeout;
        http.MaxResponseContentBufferSize = MaxAnswerBytes;
        InternalApi.Authorize(http, configuration);
    }

    /// <summary>
    /// Sends <paramref name="method"/> to <c>internal/organizations/{organizationId}/webhooks{route}</c> with
    /// <paramref name="body"/> as JSON (when given). Never throws for the service's sake: an unreachable or silent
    /// service, or one that answers something that is not the contract (no JSON, our internal key refused), is an
    /// <see cref="WorkerDataPlane.Answer.Error"/>; the client going away still cancels.
    /// </summary>
    public async Task<WorkerDataPlane.Answer> SendAsync(HttpMethod method, Guid organizationId, string route, JsonObject? body, CancellationToken ct)
    {
        var path = $"internal/organizations/{organizationId}/webhooks{route}";
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try
        {
            response = await http.SendAsync(request, HttpCompletionOption.ResponseContentRead, ct);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or OperationCanceledException)
        {
            var timedOut = ex is OperationCanceledException;
            logger.LogWarning("The webhooks service did not answer {Method} {Path}: {Error}",
                method, path, timedOut ? $"no answer within {http.Timeout}" : ex.Message);
            return Unavailable(timedOut
                ? $"The webhooks service did not answer within {http.Timeout.TotalSeconds:0} s; try again shortly."
                : "The webhooks service could not be reached; try again shortly.");
        }

        // Our own key refused is the platform's misconfiguration, not the caller's: passed through, the 401 would tell
        // a client with a perfectly good API key that it is unauthenticated.
        if (response.StatusCode == HttpStatusCode.Unauthorized)
        {
            response.Dispose();
            logger.LogError("The webhooks service refused the internal key on {Method} {Path}: Boxes:InternalKey differs between the API and it", method, path);
            return Unavailable("The webhooks service refused this API's credentials; the operator has to fix the platform's configuration.");
        }
        // Its errors already have the /v1 shape; a body that is not JSON (an older build without these routes answers a
        // bare 404, a proxy its own page) would break that shape, so it is not passed on.
        if (response.Content.Headers.ContentType?.MediaType is not { } type || !(type == "application/json" || type.EndsWith("+json", StringComparison.Ordinal)))
        {
            var status = (int)response.StatusCode;
            response.Dispose();
            logger.LogError("The webhooks service answered {Method} {Path} with {Status} and no JSON body", method, path, status);
            return Unavailable($"The webhooks service answered {status} without the expected JSON; try again shortly.");
        }
        return new WorkerDataPlane.Answer(response, null);
    }

    private static WorkerDataPlane.Answer Unavailable(string message) => new(null, ApiError.UpstreamUnavailable(message));
}

public static class WebhooksClientRegistration
{
    /// <summary>
    /// Registers <see cref="WebhooksClient"/> for <c>Webhooks:Address</c> (default <c>http://127.0.0.1:8084</c>) with the
    /// internal key. Checks the address at once, so a misconfigured API fails at startup rather than on its first call.
    /// </summary>
    public static IServiceCollection AddWebhooksClient(this IServiceCollection services, IConfiguration configuration)
    {
        WebhooksClient.Address(configuration);
        // Direct connections on the private network, redirects not followed, a quick verdict on a dead service: as for workers.
        services.AddHttpClient<WebhooksClient>((sp, http) => WebhooksClient.Configure(http, sp.GetRequiredService<IConfiguration>()))
            .ConfigurePrimaryHttpMessageHandler(WorkerDataPlane.CreateHandler);
        return services;
    }
}
