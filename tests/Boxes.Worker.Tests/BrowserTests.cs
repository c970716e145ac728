using System.Diagnostics;
using Boxes.Testing;
using Boxes.Worker.Browsers;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Xunit;

namespace Boxes.Worker.Tests;

/// <summary>The worker's Chromium handling against the real Chromium (BOXES_CHROMIUM, default /usr/bin/chromium).</summary>
public sealed class BrowserTests : IAsyncLifetime
{
    private readonly DirectoryInfo _dataDir = Directory.CreateTempSubdirectory("boxes-worker-test-");
    private ChromiumLauncher _launcher = null!;
    private BrowserPool _pool = null!;
    private BrowserSessions _sessions = null!;

    public Task InitializeAsync()
    {
        Assert.True(File.Exists(TestEnvironment.Chromium), $"Chromium not found at {TestEnvironment.Chromium}: run through scripts/test.sh, which installs it.");
        var options = Options.Create(new ChromiumOptions { ChromiumPath = TestEnvironment.Chromium, DataDir = _dataDir.FullName, PoolSize = 1 });
        _launcher = new ChromiumLauncher(options, NullLogger<ChromiumLauncher>.Instance);
        _pool = new BrowserPool(_launcher, options, NullLogger<BrowserPool>.Instance);
        _sessions = new BrowserSessions(_pool, NullLogger<BrowserSessions>.Instance);
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _sessions.StopAsync(CancellationToken.None);
        await _pool.StopAsync(CancellationToken.None);
        await Eventually.Until(() => ProcessesUsing(_dataDir.FullName).Count == 0, TimeSpan.FromSeconds(10), "no Chromium left from this test");
        _dataDir.Delete(recursive: true);
    }

    /// <summary>Live (non-zombie) processes whose command line mentions the folder.</summary>
    private static List<int> ProcessesUsing(string folder)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(folder, StringComparison.Ordinal)) pids.Add(pid);
            }
            catch (IOException) { }
        }
        return pids;
    }

    [Fact]
    public async Task A_launched_browser_has_its_own_profile_and_a_cdp_endpoint_that_drives_pages()
    {
        await using var browser = await _launcher.LaunchAsync(CancellationToken.None);
        Assert.StartsWith(_dataDir.FullName, browser.ProfileDir);
        Assert.True(Directory.Exists(browser.ProfileDir));
        Assert.Matches(@"^ws://127\.0\.0\.1:\d+/devtools/browser/[0-9a-f-]+$", browser.WebSocketUrl);

        await using var cdp = await CdpClient.ConnectAsync(browser.WebSocketUrl);
        var target = await cdp.SendAsync("Target.createTarget", new { url = "about:blank" });
        Assert.False(string.IsNullOrEmpty(target["targetId"]?.GetValue<string>()));
    }

    [Fact]
    public async Task Stopping_a_session_kills_every_chromium_process_and_removes_its_profile()
    {
        var boxId = Guid.NewGuid();
        var browser = await _sessions.StartAsync(boxId, CancellationToken.None);
        var profile = browser.ProfileDir;
        Assert.NotEmpty(ProcessesUsing(profile));

        Assert.True(await _sessions.StopAsync(boxId));

        Assert.False(Directory.Exists(profile));
        await Eventually.Until(() => ProcessesUsing(profile).Count == 0, TimeSpan.FromSeconds(10), $"every process of {profile} to be gone");
        Assert.False(_sessions.TryGet(boxId, out _));
        Assert.False(await _sessions.StopAsync(boxId)); // idempotent
    }

    [Fact]
    public async Task A_killed_chromium_is_reported_as_crashed_with_a_reason_and_cleaned_up()
    {
        var crashes = new List<(Guid BoxId, string Reason)>();
        _sessions.OnCrashed = (id, reason) => { lock (crashes) crashes.Add((id, reason)); return Task.CompletedTask; };
        var boxId = Guid.NewGuid();
        var browser = await _sessions.StartAsync(boxId, CancellationToken.None);

        Process.GetProcessById(browser.Pid).Kill();

        await Eventually.Until(() => { lock (crashes) return crashes.Count == 1; }, TimeSpan.FromSeconds(10), "the crash report");
        Assert.Equal(boxId, crashes[0].BoxId);
        Assert.Contains("exited unexpectedly", crashes[0].Reason);
        await Eventually.Until(() => !Directory.Exists(browser.ProfileDir) && ProcessesUsing(browser.ProfileDir).Count == 0,
            TimeSpan.FromSeconds(10), "the crashed browser's leftovers to be gone");
        Assert.False(_sessions.TryGet(boxId, out _));
    }

    [Fact]
    public async Task Stopping_on_request_is_not_reported_as_a_crash()
    {
        var reported = new List<Guid>();
        _sessions.OnCrashed = (id, _) => { lock (reported) reported.Add(id); return Task.CompletedTask; };
        var stopped = Guid.NewGuid();
        await _sessions.StartAsync(stopped, CancellationToken.None);
        await _sessions.StopAsync(stopped);

        // A real crash afterwards is reported; by then any report about the stopped box would have come first.
        var crashed = Guid.NewGuid();
        Process.GetProcessById((await _sessions.StartAsync(crashed, CancellationToken.None)).Pid).Kill();
        await Eventually.Until(() => { lock (reported) return reported.Contains(crashed); }, TimeSpan.FromSeconds(10), "the real crash report");
        Assert.DoesNotContain(stopped, reported);
    }

    [Fact]
    public async Task Starting_the_same_box_twice_returns_the_same_browser()
    {
        var boxId = Guid.NewGuid();
        var first = _sessions.StartAsync(boxId, CancellationToken.None);
        var second = _sessions.StartAsync(boxId, CancellationToken.None);
        Assert.Same(await first, await second);
        Assert.Equal(1, _sessions.Count);
    }

    [Fact]
    public async Task The_pool_hands_out_a_warm_browser_and_refills_itself()
    {
        await _pool.StartAsync(CancellationToken.None);
        await Eventually.Until(() => _pool.IdleCount == 1, TimeSpan.FromSeconds(30), "the pool to pre-launch one browser");
        await using var taken = await _pool.TakeAsync(CancellationToken.None);
        Assert.False(taken.HasExited);
        await Eventually.Until(() => _pool.IdleCount == 1, TimeSpan.FromSeconds(30), "the pool to refill");
    }
}
