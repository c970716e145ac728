using System.Text.Json;
using Boxes.Api.Artifacts;
using Boxes.Api.Auth;
using Boxes.Api.Errors;
using Boxes.Api.Health;
using Boxes.Api.Lifecycle;
using Boxes.Clients;
using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Sandboxes;

/// <summary>
/// <c>/v1/sandboxes</c>: the BanataSandbox half of the SDK. Lifecycle as for browsers; the data plane (exec,
/// run-code, fs) is forwarded to the box's worker with the internal key, its answers passed through unchanged.
/// </summary>
public static class SandboxEndpoints
{
    public static readonly BoxSurface Surface = new(BoxKinds.Sandbox, "Sandbox",
        [BoxStatuses.Queued, BoxStatuses.Scheduling, BoxStatuses.Starting, BoxStatuses.Ready, BoxStatuses.Paused,
         BoxStatuses.Ending, BoxStatuses.Ended, BoxStatuses.Failed]);

    /// <summary>fs/write's own body limit, above the server-wide one: a file up to the worker's 64 MiB.</summary>
    public const long MaxFileBytes = 64L * 1024 * 1024;

    /// <summary>SDK features under /v1/sandboxes/{id}/... that this build does not have: 501, never a 404 or a stub.</summary>
    private static readonly (string Route, string Feature)[] Unbuilt =
    [
        ("preview", "The sandbox browser preview (preview routes)"),
        ("handoff", "Human handoff (handoff routes)"),
        ("control", "Browser control (control)"),
        ("opencode", "OpenCode (opencode routes)"),
        ("prompt", "OpenCode prompts (prompt)"),
    ];

    public static IEndpointRouteBuilder MapSandboxEndpoints(this IEndpointRouteBuilder app)
    {
        var sandboxes = app.MapGroup("/v1/sandboxes");
        sandboxes.MapBoxLifecycle<SandboxView>(Surface, ParseAsync);

        sandboxes.MapPost("/{id}/exec", (string id, HttpContext http, CancellationToken ct) =>
            ForwardJsonAsync(http, id, "/exec", DataPlaneRequests.Exec, ct));

        sandboxes.MapPost("/{id}/run-code", (string id, HttpContext http, CancellationToken ct) =>
            ForwardJsonAsync(http, id, "/run-code", DataPlaneRequests.RunCode, ct));

        sandboxes.MapGet("/{id}/fs/read", async (string id, HttpContext http, WorkerDataPlane worker, CancellationToken ct) =>
        {
            var (path, bad) = PathQuery(http, required: true);
            if (bad is not null) return bad;
            var (view, error) = await RunningAsync(http, id, waitForStart: true, ct);
            if (error is not null) return error;
            // The bytes are whatever the file holds: never let a browser sniff them into something it renders.
            return (await worker.SendAsync(view!, HttpMethod.Get, "/fs/read?path=" + Uri.EscapeDataString(path!), null, WorkerDataPlane.FileTimeout, ct))
                .PassThrough(noSniff: true);
        });

        sandboxes.MapPut("/{id}/fs/write", async (string id, HttpContext http, WorkerDataPlane worker, CancellationToken ct) =>
        {
            // Raised for this route only, before anything reads the body; Kestrel then refuses a larger body as it streams.
            if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = MaxFileBytes;
            var (path, bad) = PathQuery(http, required: true);
            if (bad is not null) return bad;
            if (http.Request.ContentLength > MaxFileBytes)
                return new ApiError(413, "VALIDATION_FAILED", $"The file is larger than the {MaxFileBytes / (1024 * 1024)} MiB limit of fs/write.");
            var (view, error) = await RunningAsync(http, id, waitForStart: true, ct);
            if (error is not null) return error;
            return (await worker.SendAsync(view!, HttpMethod.Put, "/fs/write?path=" + Uri.EscapeDataString(path!),
                WorkerDataPlane.StreamFrom(http.Request), WorkerDataPlane.FileTimeout, ct)).PassThrough();
        });

        sandboxes.MapGet("/{id}/fs/list", async (string id, HttpContext http, WorkerDataPlane worker, CancellationToken ct) =>
        {
            var (path, bad) = PathQuery(http, required: false);
            if (bad is not null) return bad;
            var (view, error) = await RunningAsync(http, id, waitForStart: true, ct);
            if (error is not null) return error;
            return (await worker.SendAsync(view!, HttpMethod.Get, "/fs/list?path=" + Uri.EscapeDataString(path ?? DataPlaneRequests.DefaultListPath),
                null, WorkerDataPlane.FileTimeout, ct)).PassThrough();
        });

        sandboxes.MapPost("/{id}/pause", (string id, HttpContext http, CancellationToken ct) =>
            TransitionAsync(http, id, pause: true, ct));

        sandboxes.MapPost("/{id}/resume", (string id, HttpContext http, CancellationToken ct) =>
            TransitionAsync(http, id, pause: false, ct));

        sandboxes.MapPost("/{id}/checkpoint", async (string id, HttpContext http, WorkerDataPlane worker, BoxCatalog catalog, CancellationToken ct) =>
        {
            var (view, error) = await RunningAsync(http, id, waitForStart: false, ct);
            if (error is not null) return error;
            var answer = await worker.PostAsync(view!, "/checkpoint", WorkerDataPlane.CheckpointTimeout, ct);
            if (!answer.IsSuccess) return answer.PassThrough(); // the result disposes the answer once sent
            ArtifactInfo? stored;
            using (answer) stored = await ReadStoredArtifactAsync(answer.Response!, ct);
            if (stored is null) return ApiError.UpstreamUnavailable("The sandbox's worker answered the checkpoint without the stored artifact.");
            // The artifacts service appended ArtifactCreated before the worker answered, so a re-read shows it;
            // should it not (an older worker), the worker's own answer still names what was stored.
            view = await catalog.RefreshAsync(view!, ct);
            if (view.Artifacts.All(a => a.Id != stored.Id)) view = view with { Artifacts = [.. view.Artifacts, stored] };
            return Results.Json(new { ok = true, key = stored.Id, artifacts = SandboxView.Artifacts(view) }, BoxesJson.Options);
        });

        sandboxes.MapGet("/{id}/artifacts", async (string id, HttpContext http, BoxCatalog catalog, CancellationToken ct) =>
        {
            // Artifacts outlive their box (a non-ephemeral sandbox's final checkpoint lands after it ended): any status.
            var view = await catalog.FindAsync(http.Caller(), BoxKinds.Sandbox, id, ct);
            return view is null ? NotFound(id) : Results.Json(new { artifacts = SandboxView.Artifacts(view) }, BoxesJson.Options);
        });

        sandboxes.MapGet("/{id}/artifacts/{key}/download-url", async (string id, string key, HttpContext http, BoxCatalog catalog, ArtifactLinks links,
            CancellationToken ct) =>
        {
            var view = await catalog.FindAsync(http.Caller(), BoxKinds.Sandbox, id, ct);
            if (view is null) return NotFound(id);
            if (!Guid.TryParse(key, out var artifactId) || view.Artifacts.All(a => a.Id != artifactId))
                return ApiError.NotFound($"Artifact {key} of sandbox {id}");
            var (url, expiresAt) = links.Create(artifactId, view.OrganizationId);
            return Results.Json(new { url, expiresAt }, BoxesJson.Options);
        });

        sandboxes.MapGet("/{id}/terminal", async (string id, HttpContext http, SandboxView render, CancellationToken ct) =>
        {
            var (view, error) = await RunningAsync(http, id, waitForStart: false, ct);
            if (error is not null) return error;
            var (terminalUrl, token) = render.Terminal(view!);
            return Results.Json(new { terminalUrl, token }, BoxesJson.Options);
        });

        foreach (var (route, feature) in Unbuilt)
            sandboxes.Map($"/{{id}}/{route}/{{**rest}}", () => ApiError.NotImplemented(feature));
        return app;
    }

    /// <summary>The create body as a spec; a <c>fromCheckpoint</c> must name a checkpoint of the caller's own organisation.</summary>
    private static async ValueTask<(BoxSpec?, ApiError?)> ParseAsync(HttpContext http, JsonElement body, Caller caller, CancellationToken ct)
    {
        var (spec, error) = SandboxConfig.Parse(body, caller, http.RequestServices.GetRequiredService<IOptions<PlanCatalog>>().Value);
        if (error is not null || spec!.FromCheckpoint is not { } checkpoint) return (spec, error);
        ArtifactRecord? record;
        try
        {
            record = await http.RequestServices.GetRequiredService<ArtifactsClient>().GetAsync(checkpoint, ct);
        }
        catch (HttpRequestException ex)
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Boxes.Api.Sandboxes")
                .LogWarning("Checkpoint {ArtifactId} could not be looked up: {Error}", checkpoint, ex.Message);
            return (null, ApiError.UpstreamUnavailable("The artifact store did not answer, so fromCheckpoint could not be checked; try again shortly."));
        }
        // Another organisation's artifact, or one that is not a checkpoint, is as unknown as a missing one.
        if (record is null || record.OrganizationId != caller.OrganizationId || record.Kind != ArtifactKinds.Checkpoint)
            return (null, ApiError.NotFound($"fromCheckpoint: the checkpoint {checkpoint}"));
        return (spec, null);
    }

    private static async Task<IResult> ForwardJsonAsync(HttpContext http, string id, string route,
        Func<JsonElement, (DataPlaneRequests.Checked? Request, ApiError? Error)> check, CancellationToken ct)
    {
        // Bad input is refused before the box is even looked at: it would be bad in any state.
        var (body, unreadable) = await JsonBody.ReadObjectAsync(http.Request, ct);
        if (unreadable is not null) return unreadable;
        var (request, invalid) = check(body);
        if (invalid is not null) return invalid;
        var (view, error) = await RunningAsync(http, id, waitForStart: true, ct);
        if (error is not null) return error;
        var worker = http.RequestServices.GetRequiredService<WorkerDataPlane>();
        return (await worker.PostJsonAsync(view!, route, request!.Body, TimeSpan.FromMilliseconds(request.TimeoutMs) + WorkerDataPlane.ExecSlack, ct))
            .PassThrough();
    }

    /// <summary>
    /// The caller's sandbox when it is running: ready, with an endpoint. One still starting is waited for when
    /// <paramref name="waitForStart"/>; any other state is a conflict that says what to do.
    /// </summary>
    private static async Task<(BoxView? View, ApiError? Error)> RunningAsync(HttpContext http, string id, bool waitForStart, CancellationToken ct)
    {
        var catalog = http.RequestServices.GetRequiredService<BoxCatalog>();
        var view = await catalog.FindAsync(http.Caller(), BoxKinds.Sandbox, id, ct);
        if (view is null) return (null, NotFound(id));
        // The SDK execs right after create: a sandbox still starting is waited for (Boxes:SandboxStartWait, 30 s by default).
        var startWait = http.RequestServices.GetRequiredService<IOptions<ApiOptions>>().Value.SandboxStartWait;
        var workers = http.RequestServices.GetRequiredService<WorkerHeartbeats>();
        if (waitForStart && IsStarting(view) && EarlyEndpoint(view, workers) is null)
        {
            view = await http.RequestServices.GetRequiredService<BoxChangeNotifier>().WaitWhileAsync(
                view, v => IsStarting(v) && EarlyEndpoint(v, workers) is null, catalog.RefreshAsync, startWait, ct);
        }
        // Placed but not reported ready yet: the worker is known and waits for the start itself (the request carries
        // how long it may), which saves the round of the start report through the scheduler on the first exec.
        if (waitForStart && IsStarting(view) && EarlyEndpoint(view, workers) is { } early)
            return (view with { Endpoint = early }, null);
        return view.Status switch
        {
            BoxStatuses.Ready when view.Endpoint is not null => (view, null),
            BoxStatuses.Queued or BoxStatuses.Scheduling or BoxStatuses.Starting or BoxStatuses.Ready => (null, waitForStart
                ? new ApiError(503, "SCHEDULING_FAILED", $"Sandbox {id} is still {view.Status} after {startWait.TotalSeconds:0} s; try again shortly.") { RetryAfterSeconds = 5 }
                : ApiError.Conflict($"Sandbox {id} is {view.Status}, not ready yet: wait until GET /v1/sandboxes/{id} says \"ready\".")),
            BoxStatuses.Paused => (null, ApiError.Conflict($"Sandbox {id} is paused: resume it first (POST /v1/sandboxes/{id}/resume).")),
            BoxStatuses.Failed => (null, ApiError.Conflict($"Sandbox {id} failed ({view.EndReason}); create a new one.")),
            _ => (null, ApiError.Conflict($"Sandbox {id} is {view.Status}{(view.EndReason is null ? "" : $" ({view.EndReason})")}; create a new one.")),
        };
    }

    private static bool IsStarting(BoxView view) => view.Status is BoxStatuses.Queued or BoxStatuses.Scheduling or BoxStatuses.Starting;

    /// <summary>A starting sandbox's data-plane address, from the worker it was placed on (as that worker announced it).</summary>
    private static string? EarlyEndpoint(BoxView view, WorkerHeartbeats workers) =>
        view.Status == BoxStatuses.Starting && view.WorkerId is { } worker && workers.AddressOf(worker) is { } address
            ? $"{address.TrimEnd('/')}/sandboxes/{view.Id}"
            : null;

    /// <summary>
    /// Pause (ready → paused) or resume (paused → ready): the worker freezes or thaws the processes first, then the
    /// event is appended at the version read, so a sandbox that started ending meanwhile is never recorded paused.
    /// </summary>
    private static async Task<IResult> TransitionAsync(HttpContext http, string id, bool pause, CancellationToken ct)
    {
        var services = http.RequestServices;
        var catalog = services.GetRequiredService<BoxCatalog>();
        var view = await catalog.FindAsync(http.Caller(), BoxKinds.Sandbox, id, ct);
        if (view is null) return NotFound(id);
        var (from, to) = pause ? (BoxStatuses.Ready, BoxStatuses.Paused) : (BoxStatuses.Paused, BoxStatuses.Ready);
        if (view.Status != from || view.Endpoint is null)
            return ApiError.Conflict(pause
                ? $"Sandbox {id} is {view.Status}: only a ready sandbox can be paused."
                : $"Sandbox {id} is not paused (it is {view.Status}).");

        var answer = await services.GetRequiredService<WorkerDataPlane>().PostAsync(view, pause ? "/pause" : "/resume", WorkerDataPlane.ControlTimeout, ct);
        if (!answer.IsSuccess) return answer.PassThrough(); // the result disposes the answer once sent
        answer.Dispose();

        var store = services.GetRequiredService<EventStore.EventStore>();
        var clock = services.GetRequiredService<TimeProvider>();
        var eventId = Guid.NewGuid();
        for (var attempt = 1; ; attempt++)
        {
            var now = clock.GetUtcNow();
            object made = pause ? new BoxPaused(view.Id, now) : new BoxResumed(view.Id, now);
            try
            {
                await store.AppendAsync(Streams.ForBox(view.Id), view.Version, [StoredEvents.ToEventData(made, eventId)], ct);
                break;
            }
            catch (WrongExpectedVersionException) when (attempt < 10)
            {
                // Something else was appended since we read (an artifact, a stop): look again.
                view = await catalog.RefreshAsync(view, ct);
                if (view.Status is BoxStatuses.Ending or BoxStatuses.Ended or BoxStatuses.Failed)
                    return ApiError.Conflict($"Sandbox {id} is {view.Status}: it ended while being {(pause ? "paused" : "resumed")}.");
                if (view.Status == to) break; // another request recorded the same transition first
            }
        }
        view = await catalog.RefreshAsync(view, ct);
        return Results.Json(services.GetRequiredService<SandboxView>().Render(view, http.Caller()), BoxesJson.Options);
    }

    /// <summary>The worker's checkpoint answer: the stored artifact record.</summary>
    private static async Task<ArtifactInfo?> ReadStoredArtifactAsync(HttpResponseMessage response, CancellationToken ct)
    {
        try
        {
            using var doc = await JsonDocument.ParseAsync(await response.Content.ReadAsStreamAsync(ct), cancellationToken: ct);
            var r = doc.RootElement;
            if (r.ValueKind != JsonValueKind.Object) return null;
            string? Text(string name) => r.TryGetProperty(name, out var p) && p.ValueKind == JsonValueKind.String ? p.GetString() : null;
            if (!Guid.TryParse(Text("artifactId"), out var artifactId)) return null;
            return new ArtifactInfo(artifactId,
                Text("kind") ?? ArtifactKinds.Checkpoint,
                Text("contentType") ?? "application/gzip",
                r.TryGetProperty("sizeBytes", out var s) && s.ValueKind == JsonValueKind.Number && s.TryGetInt64(out var size) ? size : 0,
                DateTimeOffset.TryParse(Text("createdAt"), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.RoundtripKind, out var at)
                    ? at : DateTimeOffset.UtcNow);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>The <c>path</c> query parameter: once, bounded, no NUL; optional where the route has a default.</summary>
    private static (string? Path, ApiError? Error) PathQuery(HttpContext http, bool required)
    {
        var values = http.Request.Query["path"];
        if (values.Count > 1) return (null, ApiError.Validation("path: given more than once."));
        var path = values.Count == 1 ? values[0] : null;
        if (!required && string.IsNullOrEmpty(path)) return (null, null);
        return DataPlaneRequests.CheckPath("path", path) is { } bad ? (null, bad) : (path, null);
    }

    private static ApiError NotFound(string id) => BoxRoutes.NotFound(Surface, id);
}
