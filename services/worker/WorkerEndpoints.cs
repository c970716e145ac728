using Boxes.Worker.Browsers;
using Boxes.Worker.Sandboxes;

namespace Boxes.Worker;

/// <summary>
/// The worker's own HTTP surface, on its loopback/internal address only: what it runs right now, so an
/// operator (and the end-to-end tests) can check that a box left nothing behind.
/// </summary>
public static class WorkerEndpoints
{
    public static IEndpointRouteBuilder MapWorkerEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGet("/pool", (BrowserPool pool, SandboxPool sandboxPool, SandboxHost sandboxHost, Microsoft.Extensions.Options.IOptions<ChromiumOptions> options) =>
            Results.Ok(new
            {
                idle = pool.IdleCount, size = options.Value.PoolSize,
                sandboxes = new { idle = sandboxPool.IdleCount, size = sandboxHost.Options.PoolSize, available = sandboxHost.Available, reason = sandboxHost.UnavailableReason },
            }));
        app.MapGet("/boxes", (BrowserSessions browsers, SandboxSessions sandboxes) =>
            Results.Ok(new
            {
                items = browsers.Running.Select(id => Describe(browsers, id))
                    .Concat(sandboxes.Running.Select(id => Describe(sandboxes, id)))
                    .Where(b => b is not null),
            }));
        app.MapGet("/boxes/{id:guid}", (Guid id, BrowserSessions browsers, SandboxSessions sandboxes) =>
            (Describe(browsers, id) ?? Describe(sandboxes, id)) is { } box
                ? Results.Ok(box)
                : Results.NotFound(new { error = new { code = "NOT_FOUND", message = $"box {id} is not running on this worker" } }));
        return app;
    }

    private static object? Describe(BrowserSessions sessions, Guid id) =>
        sessions.TryGet(id, out var browser)
            ? new { boxId = id, kind = "browser", pid = browser.Pid, profileDir = browser.ProfileDir, endpoint = browser.WebSocketUrl }
            : null;

    private static object? Describe(SandboxSessions sessions, Guid id) =>
        sessions.TryGet(id, out var s)
            ? new { boxId = id, kind = "sandbox", pid = s.Sandbox.Pid, cgroup = s.Sandbox.Name, uid = s.Sandbox.Uid, paused = s.Paused, network = s.Sandbox.HasNetwork }
            : null;
}
