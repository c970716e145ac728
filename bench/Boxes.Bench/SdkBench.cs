using System.Diagnostics;
using Boxes.Sdk;

/// <summary>
/// The same hot paths through the C# SDK, to show what it adds: a sandbox's LaunchAsync (create, then poll until
/// ready) and its first exec; an exec round trip; a browser's LaunchAsync and DisposeAsync. Besides launching, the
/// SDK's create → exec without waiting for ready (what the raw-HTTP sandbox bench measures) is timed too.
/// </summary>
internal sealed class SdkBench(Uri apiUrl, string apiKey, Func<Task> waitForSandboxPool, Func<Task> waitForBrowserPool)
{
    public async Task RunAsync(int count)
    {
        var options = new BoxesClientOptions { ApiKey = apiKey, BaseUrl = apiUrl.ToString() };
        using var sandboxes = new SandboxCloud(options);
        using var browsers = new BrowserCloud(options);

        await using (var warm = await sandboxes.LaunchAsync(new() { Runtime = "base" })) await warm.ExecAsync("true");

        var launch = new List<double>();
        var launchToExec = new List<double>();
        var createToExec = new List<double>();
        for (var i = 0; i < count; i++)
        {
            await waitForSandboxPool();
            var sw = Stopwatch.StartNew();
            await using (var sandbox = await sandboxes.LaunchAsync(new() { Runtime = "base" }))
            {
                launch.Add(sw.Elapsed.TotalMilliseconds);
                await sandbox.ExecAsync("true");
                launchToExec.Add(sw.Elapsed.TotalMilliseconds);
            }

            await waitForSandboxPool();
            sw.Restart();
            var created = await sandboxes.CreateAsync(new() { Runtime = "base" });
            await sandboxes.ExecAsync(created.Id, "true");
            createToExec.Add(sw.Elapsed.TotalMilliseconds);
            await sandboxes.KillAsync(created.Id);
        }
        Stats.Report($"SDK sandbox LaunchAsync (create + wait for ready) ({count})", launch);
        Stats.Report($"SDK sandbox LaunchAsync → first ExecAsync answered ({count})", launchToExec);
        Stats.Report($"SDK sandbox CreateAsync → first ExecAsync answered, no wait for ready ({count})", createToExec);

        await waitForSandboxPool();
        await using (var sandbox = await sandboxes.LaunchAsync(new() { Runtime = "base" }))
        {
            var exec = new List<double>();
            for (var i = 0; i < 200; i++)
            {
                var sw = Stopwatch.StartNew();
                await sandbox.ExecAsync("true");
                exec.Add(sw.Elapsed.TotalMilliseconds);
            }
            Stats.Report("SDK exec round trip (`true`, 200 in one sandbox)", exec);
        }

        var browser = new List<double>();
        for (var i = 0; i < Math.Min(count, 10); i++)
        {
            await waitForBrowserPool();
            var sw = Stopwatch.StartNew();
            await using (await browsers.LaunchAsync(new() { Weight = "light" })) browser.Add(sw.Elapsed.TotalMilliseconds);
        }
        Stats.Report($"SDK browser LaunchAsync (create + wait for ready) ({browser.Count})", browser);
    }
}
