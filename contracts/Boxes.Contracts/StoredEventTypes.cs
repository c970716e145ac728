namespace Boxes.Contracts;

/// <summary>
/// The event types that live in the event store, by the name stored in its <c>type</c> column.
/// The relay uses this to publish each stored event to the bus as its own message type.
/// </summary>
public static class StoredEventTypes
{
    private static readonly Dictionary<string, Type> ByName = new[]
    {
        typeof(BoxRequested), typeof(BoxScheduling), typeof(BoxPlaced), typeof(BoxReady),
        typeof(BoxStopRequested), typeof(BoxEnding), typeof(BoxEnded), typeof(BoxFailed),
        typeof(BoxPaused), typeof(BoxResumed), typeof(ArtifactCreated),
    }.ToDictionary(t => t.Name, StringComparer.Ordinal);

    public static string NameOf(Type type) => ByName.ContainsKey(type.Name)
        ? type.Name
        : throw new ArgumentException($"{type.Name} is not a stored event type", nameof(type));

    public static bool TryResolve(string name, out Type type) => ByName.TryGetValue(name, out type!);

    public static void Register(Type type) => ByName[type.Name] = type;
}

public static class Streams
{
    public static string ForBox(Guid boxId) => $"box-{boxId:N}";
}
