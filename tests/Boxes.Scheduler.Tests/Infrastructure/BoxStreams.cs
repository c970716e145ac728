using Boxes.Contracts;
using Boxes.EventStore;
using Boxes.ServiceDefaults;
using Boxes.Testing;

namespace Boxes.Scheduler.Tests.Infrastructure;

/// <summary>Plays the API's part: appends requests and stops to box streams, and reads a box back as its fold.</summary>
public sealed class BoxStreams(EventStore.EventStore store)
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);

    /// <summary>Appends BoxRequested as the API does; the relay takes it to the scheduler.</summary>
    public async Task<(BoxRequested Request, Guid EventId)> Request(BoxSpec? spec = null, string kind = BoxKinds.Browser)
    {
        var request = new BoxRequested(Guid.NewGuid(), Guid.NewGuid(), kind, spec ?? new BoxSpec(), DateTimeOffset.UtcNow);
        var eventId = Guid.NewGuid();
        await store.AppendAsync(Streams.ForBox(request.BoxId), ExpectedVersion.NoStream, [StoredEvents.ToEventData(request, eventId)]);
        return (request, eventId);
    }

    public Task Append(Guid boxId, object @event) =>
        store.AppendAsync(Streams.ForBox(boxId), ExpectedVersion.Any, [StoredEvents.ToEventData(@event, Guid.NewGuid())]);

    public Task StopRequested(Guid boxId) => Append(boxId, new BoxStopRequested(boxId, DateTimeOffset.UtcNow));

    public async Task<IReadOnlyList<object>> Events(Guid boxId) =>
        (await store.ReadStreamAsync(Streams.ForBox(boxId))).Select(StoredEvents.Deserialize).ToList();

    public async Task<BoxView?> View(Guid boxId) => StoredEvents.FoldBox(await store.ReadStreamAsync(Streams.ForBox(boxId)));

    public async Task<BoxView> WaitFor(Guid boxId, string status, TimeSpan? timeout = null)
    {
        var view = await Eventually.Until(() => View(boxId), v => v is not null && (v.Status == status || BoxStatuses.IsTerminal(v.Status)),
            timeout ?? Patience, $"box {boxId} to become {status}");
        Assert.True(view!.Status == status,
            $"box {boxId} became {view.Status} ({view.FailureCode}: {view.EndReason}) instead of {status}");
        return view;
    }

    /// <summary>Closes a box a test is done with, so it frees its worker's slots for the next test.</summary>
    public async Task Close(Guid boxId)
    {
        var view = await View(boxId);
        if (view is null || BoxStatuses.IsTerminal(view.Status)) return;
        await StopRequested(boxId);
        await Eventually.Until(() => View(boxId), v => v is not null && BoxStatuses.IsTerminal(v.Status), Patience, $"box {boxId} to end");
    }
}
