namespace Boxes.Worker.Browsers;

/// <summary>How this worker runs Chromium (config section <c>Worker</c>).</summary>
public sealed class ChromiumOptions
{
    public string ChromiumPath { get; set; } = "/usr/bin/chromium";
    /// <summary>Where profile folders live; each browser gets a fresh one, deleted when it stops.</summary>
    public string DataDir { get; set; } = Path.Combine(Path.GetTempPath(), "boxes-worker");
    /// <summary>Browsers kept launched and idle so that a session starts without a cold start (~0.5 s).</summary>
    /// <remarks>A cold launch takes about a second on two cores, so the pool must cover a burst of creates.</remarks>
    public int PoolSize { get; set; } = 4;
    /// <summary>How many browsers the pool launches at once while refilling.</summary>
    public int RefillParallelism { get; set; } = 1;
    /// <summary>Nice value pre-launched browsers start with; a session's browser runs at normal priority.</summary>
    public int LaunchNice { get; set; } = 10;
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(15);
    public string[] ExtraArgs { get; set; } = [];
    /// <summary>Where Chromium's DevTools listens. Loopback when the API runs on the same host.</summary>
    public string RemoteDebuggingAddress { get; set; } = "127.0.0.1";
    /// <summary>The host name the API uses to reach this worker's browsers (the endpoint it reports).</summary>
    public string AdvertisedHost { get; set; } = "127.0.0.1";
}
