using Boxes.Testing;

namespace Boxes.Worker.Tests;

public sealed class SessionTests(ITestOutputHelper output) : ChromiumTestBase(output)
{
    [Fact]
    public async Task Stopping_a_session_kills_every_chromium_process_and_removes_its_profile_folder()
    {
        var boxId = Guid.NewGuid();
        var browser = await Sessions.StartAsync(boxId, CancellationToken.None);
        var profile = browser.ProfileDir;
        Assert.NotEmpty(ProcessesUsing(profile));
        Assert.Equal([boxId], Sessions.Running);

        Assert.True(await Sessions.StopAsync(boxId));

        Assert.False(Directory.Exists(profile));
        Assert.Empty(ProcessesUsing(profile));
        Assert.False(Sessions.TryGet(boxId, out _));
        Assert.Equal(0, Sessions.Count);
        Assert.False(await Sessions.StopAsync(boxId)); // idempotent: a redelivered stop
    }

    [Fact]
    public async Task A_killed_chromium_is_reported_as_crashed_with_a_reason()
    {
        var crashes = new List<(Guid BoxId, string Reason)>();
        Sessions.OnCrashed = (id, reason) => { lock (crashes) crashes.Add((id, reason)); return Task.CompletedTask; };
        var boxId = Guid.NewGuid();
        var browser = await Sessions.StartAsync(boxId, CancellationToken.None);

        KillDashNine(browser.Pid);

        await Eventually.Until(() => { lock (crashes) return crashes.Count > 0; }, Deadline, "the crash report");
        var (crashedId, reason) = Assert.Single(crashes);
        Assert.Equal(boxId, crashedId);
        Assert.Contains("chromium exited with code 137", reason);
        Assert.Contains("SIGKILL", reason);
        // Reported after cleanup: the orphaned helpers and the profile are gone already.
        Assert.False(Directory.Exists(browser.ProfileDir));
        Assert.Empty(ProcessesUsing(browser.ProfileDir));
        Assert.False(Sessions.TryGet(boxId, out _));
        Assert.DoesNotContain(boxId, Sessions.Running);
    }

    [Fact]
    public async Task Stopping_on_request_is_not_reported_as_a_crash()
    {
        var crashes = 0;
        Sessions.OnCrashed = (_, _) => { Interlocked.Increment(ref crashes); return Task.CompletedTask; };
        var boxId = Guid.NewGuid();
        var browser = await Sessions.StartAsync(boxId, CancellationToken.None);

        await Sessions.StopAsync(boxId);

        // The crash watcher runs when Exited completes, which StopAsync awaited; by now it has decided.
        Assert.True(browser.Exited.IsCompleted);
        Assert.True(browser.StopRequested);
        Assert.Equal(0, Volatile.Read(ref crashes));
    }

    [Fact]
    public async Task Starting_the_same_box_twice_returns_the_same_browser()
    {
        var boxId = Guid.NewGuid();
        var first = Sessions.StartAsync(boxId, CancellationToken.None);
        var second = Sessions.StartAsync(boxId, CancellationToken.None); // a redelivery racing the first
        Assert.Same(await first, await second);
        Assert.Same(await first, await Sessions.StartAsync(boxId, CancellationToken.None)); // and one after

        Assert.Equal(1, Sessions.Count);
        Assert.True(Sessions.TryGet(boxId, out var running));
        Assert.Same(await first, running);
    }

    [Fact]
    public async Task Different_boxes_get_different_browsers_and_profiles()
    {
        var a = await Sessions.StartAsync(Guid.NewGuid(), CancellationToken.None);
        var b = await Sessions.StartAsync(Guid.NewGuid(), CancellationToken.None);

        Assert.NotEqual(a.Pid, b.Pid);
        Assert.NotEqual(a.ProfileDir, b.ProfileDir);
        Assert.NotEqual(a.WebSocketUrl, b.WebSocketUrl);
        Assert.Equal(2, Sessions.Count);
    }

    [Fact]
    public async Task Shutdown_stops_every_session_and_refuses_new_ones()
    {
        var browsers = await Task.WhenAll(Enumerable.Range(0, 2).Select(_ => Sessions.StartAsync(Guid.NewGuid(), CancellationToken.None)));

        await Sessions.StopAsync(CancellationToken.None);

        Assert.Equal(0, Sessions.Count);
        Assert.All(browsers, b => Assert.Empty(ProcessesUsing(b.ProfileDir)));
        Assert.All(browsers, b => Assert.False(Directory.Exists(b.ProfileDir)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => Sessions.StartAsync(Guid.NewGuid(), CancellationToken.None));
    }
}
