using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Boxes.Testing;
using Boxes.Worker.Browsers;

namespace Boxes.Worker.Tests;

public sealed class LauncherTests(ITestOutputHelper output) : ChromiumTestBase(output)
{
    protected override int PoolSize => 0;

    [Fact]
    public async Task Launching_gives_a_cdp_endpoint_that_answers_json_version()
    {
        await using var browser = await Launcher.LaunchAsync(CancellationToken.None);

        Assert.StartsWith(DataDir.FullName, browser.ProfileDir);
        Assert.True(Directory.Exists(browser.ProfileDir));
        Assert.False(browser.HasExited);
        Assert.Equal(browser.Pid, browser.Process.Id);
        Assert.Matches(@"^ws://127\.0\.0\.1:\d+/devtools/browser/[0-9a-f-]+$", browser.WebSocketUrl);
        Assert.Contains($":{browser.Port}/", browser.WebSocketUrl);

        using var http = new HttpClient(new SocketsHttpHandler { UseProxy = false });
        using var version = JsonDocument.Parse(await http.GetStringAsync($"http://127.0.0.1:{browser.Port}/json/version"));
        Assert.Equal(browser.WebSocketUrl, version.RootElement.GetProperty("webSocketDebuggerUrl").GetString());
        Assert.Contains("Chrome", version.RootElement.GetProperty("Browser").GetString());
    }

    [Fact]
    public async Task A_cdp_client_can_create_a_target_over_the_websocket_url()
    {
        await using var browser = await Launcher.LaunchAsync(CancellationToken.None);
        using var timeout = new CancellationTokenSource(Deadline);
        using var ws = new ClientWebSocket();

        await ws.ConnectAsync(new Uri(browser.WebSocketUrl), timeout.Token);
        await ws.SendAsync(Encoding.UTF8.GetBytes("""{"id":1,"method":"Target.createTarget","params":{"url":"about:blank"}}"""),
            WebSocketMessageType.Text, endOfMessage: true, timeout.Token);

        // Events may arrive before the reply; the reply is the message with our id.
        string? targetId = null;
        while (targetId is null)
        {
            using var message = JsonDocument.Parse(await ReceiveTextAsync(ws, timeout.Token));
            if (!message.RootElement.TryGetProperty("id", out var id) || id.GetInt32() != 1) continue;
            Assert.False(message.RootElement.TryGetProperty("error", out var error), $"CDP error: {error}");
            targetId = message.RootElement.GetProperty("result").GetProperty("targetId").GetString();
        }
        Assert.False(string.IsNullOrEmpty(targetId));
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", timeout.Token);
    }

    private static async Task<string> ReceiveTextAsync(ClientWebSocket ws, CancellationToken ct)
    {
        var buffer = new byte[16 * 1024];
        using var text = new MemoryStream();
        while (true)
        {
            var result = await ws.ReceiveAsync(buffer, ct);
            if (result.MessageType == WebSocketMessageType.Close) throw new InvalidOperationException($"Chromium closed the socket: {result.CloseStatusDescription}");
            text.Write(buffer, 0, result.Count);
            if (result.EndOfMessage) return Encoding.UTF8.GetString(text.ToArray());
        }
    }

    [Fact]
    public async Task Stopping_a_browser_kills_its_helpers_including_crash_handlers_and_is_idempotent()
    {
        var browser = await Launcher.LaunchAsync(CancellationToken.None);
        var profile = browser.ProfileDir;
        // Crashpad handlers run in their own session, outside Chromium's process group; the launcher makes
        // them name the profile so that stopping finds them.
        await Eventually.Until(() => ProcessesUsing(profile).Any(p => CommandLine(p).Contains("crashpad", StringComparison.Ordinal)),
            Deadline, $"Chromium's crashpad handler to name the profile (processes: {Describe(ProcessesUsing(profile))})");
        Assert.True(ProcessesUsing(profile).Count > 2, "Chromium runs helper processes (zygotes, utilities, renderers)");

        var first = browser.StopAsync();
        var second = browser.StopAsync();
        await Task.WhenAll(first, second);
        await browser.StopAsync();

        Assert.True(browser.StopRequested);
        Assert.True(browser.HasExited);
        Assert.False(Directory.Exists(profile));
        Assert.Empty(ProcessesUsing(profile));
    }

    [Fact]
    public async Task A_missing_chromium_fails_the_launch_with_a_clear_message()
    {
        var launcher = NewLauncher(new ChromiumOptions { ChromiumPath = "/nonexistent/chromium", DataDir = DataDir.FullName });

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => launcher.LaunchAsync(CancellationToken.None));

        Assert.Contains("/nonexistent/chromium", ex.Message);
        Assert.Empty(DataDir.EnumerateDirectories("profile-*"));
    }

    [Fact]
    public async Task A_chromium_that_exits_at_once_fails_the_launch_with_its_last_stderr_lines()
    {
        var fake = FakeChromium("echo 'fatal: cannot open display' >&2\nexit 3");

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            NewLauncher(new ChromiumOptions { ChromiumPath = fake, DataDir = DataDir.FullName }).LaunchAsync(CancellationToken.None));

        Assert.Contains("code 3", ex.Message);
        Assert.Contains("fatal: cannot open display", ex.Message);
        Assert.Empty(DataDir.EnumerateDirectories("profile-*"));
    }

    [Fact]
    public async Task A_chromium_that_never_opens_devtools_is_killed_at_the_deadline()
    {
        // The fake's child sleeps with a unique duration so that the test can find it.
        var marker = $"100000.{Random.Shared.Next(100_000, 999_999)}";
        var fake = FakeChromium($"echo 'starting' >&2\nsleep {marker}");
        var launcher = NewLauncher(new ChromiumOptions { ChromiumPath = fake, DataDir = DataDir.FullName, StartTimeout = TimeSpan.FromSeconds(1) });

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => launcher.LaunchAsync(CancellationToken.None));

        Assert.IsType<TimeoutException>(ex.InnerException);
        Assert.Contains("DevToolsActivePort", ex.Message);
        Assert.Contains("starting", ex.Message);
        Assert.Empty(ProcessesUsing(marker));
        Assert.Empty(DataDir.EnumerateDirectories("profile-*"));
    }

    [Fact]
    public async Task Cancelling_a_launch_kills_the_half_started_browser()
    {
        using var cancel = new CancellationTokenSource();
        // LaunchAsync returns at its first wait, with Chromium started but far from ready.
        var launch = Launcher.LaunchAsync(cancel.Token);
        Assert.NotEmpty(DataDir.EnumerateDirectories("profile-*"));
        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => launch);

        Assert.Empty(ProcessesUsing(DataDir.FullName));
        Assert.Empty(DataDir.EnumerateDirectories("profile-*"));
    }

    private string FakeChromium(string body)
    {
        var path = Path.Combine(DataDir.FullName, $"fake-chromium-{Guid.NewGuid():N}.sh");
        File.WriteAllText(path, "#!/bin/sh\n" + body + "\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }
}
