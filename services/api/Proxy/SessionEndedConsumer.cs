using Boxes.Contracts;
using MassTransit;

namespace Boxes.Api.Proxy;

/// <summary>
/// Closes this API instance's proxied connections of a box (CDP of a browser, terminals of a sandbox) the
/// moment it starts ending, ends or fails. Runs on a temporary per-instance queue: every replica must hear
/// it, since any of them may hold a connection.
/// </summary>
public sealed class SessionEndedConsumer(ProxyRegistry registry, ILogger<SessionEndedConsumer> logger)
    : IConsumer<BoxEnding>, IConsumer<BoxEnded>, IConsumer<BoxFailed>
{
    public Task Consume(ConsumeContext<BoxEnding> context) => Close(context.Message.BoxId);
    public Task Consume(ConsumeContext<BoxEnded> context) => Close(context.Message.BoxId);
    public Task Consume(ConsumeContext<BoxFailed> context) => Close(context.Message.BoxId);

    private Task Close(Guid boxId)
    {
        var closed = registry.CloseAll(boxId);
        if (closed > 0) logger.LogInformation("Closed {Count} proxied connection(s) of ended box {BoxId}", closed, boxId);
        return Task.CompletedTask;
    }
}
