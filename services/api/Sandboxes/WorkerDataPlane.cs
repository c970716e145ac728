using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Boxes.Api.Errors;
using Boxes.Contracts;
using Boxes.ServiceDefaults;

namespace Boxes.Api.Sandboxes;

/// <summary>
/// The API's client for a worker's sandbox data plane (docs/INTERNAL.md): the box's endpoint plus a route, with the
/// internal key on every request. Each call gets its own deadline, since an exec may legitimately run for an hour
/// while a pause should answer in seconds; the HttpClient's own timeout is off.
/// </summary>
public sealed class WorkerDataPlane(HttpClient http, ILogger<WorkerDataPlane> logger)
{
    /// <summary>What the worker may add to an exec's own timeout before we call it unresponsive: process teardown, output transfer.</summary>
    public static readonly TimeSpan ExecSlack = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan ControlTimeout = TimeSpan.FromSeconds(30);
    public static readonly TimeSpan FileTimeout = TimeSpan.FromMinutes(5);
    public static readonly TimeSpan CheckpointTimeout = TimeSpan.FromMinutes(10);

    /// <summary>The worker waits this long for a box whose start is still under way (docs/INTERNAL.md).</summary>
    public const string StartWaitHeader = "X-Boxes-Start-Wait-Ms";

    public static void Configure(HttpClient http, IConfiguration configuration)
    {
        http.Timeout = Timeout.InfiniteTimeSpan;
        InternalApi.Authorize(http, configuration);
        // A request may reach the worker just before the box's StartBox does (see SandboxEndpoints.EarlyEndpoint).
        http.DefaultRequestHeaders.Add(StartWaitHeader, "10000");
    }

    /// <summary>Direct connections only (the workers are on the platform's private network) and a quick verdict on a dead one.</summary>
    public static HttpMessageHandler CreateHandler() => new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        ConnectTimeout = TimeSpan.FromSeconds(5),
        PooledConnectionLifetime = TimeSpan.FromMinutes(2),
    };

    public Task<Answer> PostJsonAsync(BoxView box, string route, JsonObject body, TimeSpan timeout, CancellationToken ct) =>
        SendAsync(box, HttpMethod.Post, route, new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"), timeout, ct);

    public Task<Answer> PostAsync(BoxView box, string route, TimeSpan timeout, CancellationToken ct) =>
        SendAsync(box, HttpMethod.Post, route, null, timeout, ct);

    /// <summary>
    /// Sends and returns once the worker's headers arrived; the body is still to be read (streamed through by
    /// <see cref="Answer.PassThrough"/>). A worker that cannot be reached or does not answer in time is an
    /// <see cref="Answer.Unavailable"/> error, never an exception; the client going away still cancels.
    /// </summary>
    public async Task<Answer> SendAsync(BoxView box, HttpMethod method, string route, HttpContent? content, TimeSpan timeout, CancellationToken ct)
    {
        var address = box.Endpoint!.TrimEnd('/') + route;
        using var request = new HttpRequestMessage(method, address) { Content = content };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ct);
        deadline.CancelAfter(timeout);
        try
        {
            var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token);
            return new Answer(response, null);
        }
        catch (Exception ex) when (!ct.IsCancellationRequested && ex is HttpRequestException or OperationCanceledException)
        {
            // Reading the client's own request body can fail inside the send: an oversized upload is the client's
            // fault (413 from the error middleware), not the worker's.
            for (var inner = ex.InnerException; inner is not null; inner = inner.InnerException)
                if (inner is BadHttpRequestException bad) throw bad;
            var timedOut = ex is OperationCanceledException;
            logger.LogWarning("Worker {WorkerId} did not answer {Method} {Route} for box {BoxId}: {Error}",
                box.WorkerId, method, route, box.Id, timedOut ? $"no answer within {timeout}" : ex.Message);
            return new Answer(null, ApiError.UpstreamUnavailable(timedOut
                ? $"The sandbox's worker did not answer within {timeout.TotalSeconds:0} s."
                : "The sandbox's worker could not be reached; try again shortly."));
        }
    }

    /// <summary>A worker's answer (to be disposed), or the error to give the client instead.</summary>
    public sealed record Answer(HttpResponseMessage? Response, ApiError? Error) : IDisposable
    {
        public bool IsSuccess => Response is { IsSuccessStatusCode: true };

        /// <summary>The worker's status, content type and body as they are: its errors already have the /v1 shape.</summary>
        public IResult PassThrough(bool noSniff = false) =>
            Error ?? (IResult)new PassThroughResult(Response!, noSniff);

        public void Dispose() => Response?.Dispose();
    }

    private sealed class PassThroughResult(HttpResponseMessage response, bool noSniff) : IResult
    {
        public async Task ExecuteAsync(HttpContext http)
        {
            using (response)
            {
                http.Response.StatusCode = (int)response.StatusCode;
                var headers = response.Content.Headers;
                if (headers.ContentType is { } type) http.Response.ContentType = type.ToString();
                if (headers.ContentLength is { } length) http.Response.ContentLength = length;
                if (noSniff) http.Response.Headers.XContentTypeOptions = "nosniff";
                await using var body = await response.Content.ReadAsStreamAsync(http.RequestAborted);
                await body.CopyToAsync(http.Response.Body, http.RequestAborted);
            }
        }
    }

    /// <summary>Bytes streamed from the client's request to the worker without buffering them here.</summary>
    public static HttpContent StreamFrom(HttpRequest request)
    {
        var content = new StreamContent(request.Body, 64 * 1024);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        if (request.ContentLength is { } length) content.Headers.ContentLength = length;
        return content;
    }
}
