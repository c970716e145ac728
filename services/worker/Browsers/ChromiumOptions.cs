namespace Boxes.Worker.Browsers;

/// <summary>How this worker runs Chromium (config section <c>Worker</c>, shared with <see cref="WorkerOptions"/>).</summary>
public sealed class ChromiumOptions
{
    public const string Section = "Worker";

    /// <summary>The Chromium executable. Debian's /usr/bin/chromium is a wrapper script that execs the real binary (same pid).</summary>
    public string ChromiumPath { get; set; } = "/usr/bin/chromium";

    /// <summary>Where profile folders live; each browser gets a fresh one, deleted when it stops.</summary>
    public string DataDir { get; set; } = Path.Combine(Path.GetTempPath(), "boxes-worker");

    /// <summary>Browsers kept launched and idle so that a session starts without a cold start (~0.5 s).</summary>
    /// <remarks>A cold launch takes about a second of wall time (~1.3 CPU-seconds) on two cores, so the pool must cover a burst of creates.</remarks>
    public int PoolSize { get; set; } = 4;

    /// <summary>How many browsers the pool launches at once while refilling.</summary>
    public int RefillParallelism { get; set; } = 1;

    /// <summary>
    /// How long the refill waits after a take while the pool still has an idle browser. A launch costs ~1.3 CPU-seconds,
    /// and its first moments slow the session that just started even at a low priority (opening that session's first
    /// page took 75-220 ms beside a launch instead of 30-60 ms here). An empty pool is refilled at once.
    /// </summary>
    public TimeSpan RefillDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Nice value pre-launched browsers start with; a session's browser runs at normal priority.</summary>
    public int LaunchNice { get; set; } = 10;

    /// <summary>How long a launch may take until DevTools answers; after that it is killed and reported as failed.</summary>
    public TimeSpan StartTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Appended to the built-in Chromium flags (e.g. <c>--window-size=1280,800</c>).</summary>
    public string[] ExtraArgs { get; set; } = [];
    /// <summary>
    /// Renderer processes per browser (0: Chromium's default, one per site). One browser serves one session,
    /// so its tabs all belong to one tenant; sharing one renderer makes opening a page reuse a warm process
    /// (~60 ms instead of ~150 ms here) at the cost of a crashing tab taking its session's other tabs along.
    /// </summary>
    public int RendererProcessLimit { get; set; } = 1;

    /// <summary>Open and close one page in each pre-launched browser, so a session's first page opens warm.</summary>
    public bool WarmUp { get; set; } = true;

    /// <summary>Where Chromium's DevTools listens. Loopback when the API runs on the same host.</summary>
    public string RemoteDebuggingAddress { get; set; } = "127.0.0.1";

    /// <summary>The host name the API uses to reach this worker's browsers (the endpoint it reports).</summary>
    public string AdvertisedHost { get; set; } = "127.0.0.1";
}
