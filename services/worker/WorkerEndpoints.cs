using Boxes.Worker.Browsers;

namespace Boxes.Worker;

/// <summary>
/// The worker's own HTTP surface, on its loopback/internal address only: what it runs right now, so an
/// operator (and the end-to-end tests) can check that a box left nothing behind.
/// </summary>
public static class WorkerEndpoints
{
    public static IEndpointRouteBuilder MapWorkerEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/pool", (BrowserPool pool, Microsoft.Extensions.Options.IOptions<ChromiumOptions> options) =>
            Results.Ok(new { idle = pool.IdleCount, size = options.Value.PoolSize }));
        app.MapGet("/boxes", (BrowserSessions sessions) =>
            Results.Ok(new { items = sessions.Running.Select(id => Describe(sessions, id)).Where(b => b is not null) }));
        app.MapGet("/boxes/{id:guid}", (Guid id, BrowserSessions sessions) =>
            Describe(sessions, id) is { } box ? Results.Ok(box) : Results.NotFound(new { error = new { code = "NOT_FOUND", message = $"box {id} is not running on this worker" } }));
        return app;
    }

    private static object? Describe(BrowserSessions sessions, Guid id) =>
        sessions.TryGet(id, out var browser)
            ? new { boxId = id, pid = browser.Pid, profileDir = browser.ProfileDir, endpoint = browser.WebSocketUrl }
            : null;
}
