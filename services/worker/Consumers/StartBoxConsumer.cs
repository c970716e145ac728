using Boxes.Contracts;
using Boxes.Worker.Browsers;
using Boxes.Worker.Sandboxes;
using MassTransit;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Consumers;

/// <summary>
/// Starts a box (a browser from the warm pool, or a sandbox from its pool) and reports its endpoint.
/// Idempotent: a redelivered start reports the same box.
/// </summary>
public sealed class StartBoxConsumer(
    BrowserSessions browsers, SandboxSessions sandboxes, SandboxHost sandboxHost, IOptions<WorkerOptions> options, ILogger<StartBoxConsumer> logger)
    : IConsumer<StartBox>
{
    public async Task Consume(ConsumeContext<StartBox> context)
    {
        var box = context.Message;
        var worker = options.Value;
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        try
        {
            var endpoint = box.Kind switch
            {
                BoxKinds.Browser => await StartBrowserAsync(box, context.CancellationToken),
                BoxKinds.Sandbox => await StartSandboxAsync(box, context.CancellationToken),
                _ => throw new InvalidOperationException($"this worker cannot run '{box.Kind}' boxes"),
            };
            logger.LogDebug("Box {BoxId} started in {ElapsedMs:0.0} ms", box.BoxId, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            await context.Publish(new BoxStarted(box.BoxId, worker.Id, endpoint, DateTimeOffset.UtcNow));
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            logger.LogError(ex, "Box {BoxId} failed to start", box.BoxId);
            await context.Publish(new BoxStartFailed(box.BoxId, worker.Id, ex.Message, DateTimeOffset.UtcNow));
        }
    }

    private async Task<string> StartBrowserAsync(StartBox box, CancellationToken ct)
    {
        var browser = await browsers.StartAsync(box.BoxId, ct);
        logger.LogInformation("Box {BoxId} started as Chromium pid {Pid}", box.BoxId, browser.Pid);
        return browser.WebSocketUrl;
    }

    private async Task<string> StartSandboxAsync(StartBox box, CancellationToken ct)
    {
        if (!sandboxHost.Available) throw new InvalidOperationException($"this worker cannot run sandboxes: {sandboxHost.UnavailableReason}");
        if (box.Spec.Runtime == SandboxRuntimes.Bun && !sandboxHost.HasBun)
            throw new InvalidOperationException("this worker has no bun installed (Sandbox:BunPath)");
        if (box.Spec.Network == SandboxNetworks.Internet && !sandboxHost.HasNetworking)
            throw new InvalidOperationException("this worker cannot give sandboxes network access (slirp4netns, ip or nsenter missing)");
        await sandboxes.StartAsync(box.BoxId, box.OrganizationId, box.Spec, ct);
        // The data plane for this box: the API appends /exec, /fs/..., /terminal to it (docs/INTERNAL.md).
        return $"{options.Value.Address.TrimEnd('/')}/sandboxes/{box.BoxId}";
    }
}
