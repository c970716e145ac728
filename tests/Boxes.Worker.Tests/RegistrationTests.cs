using Boxes.Testing;
using Boxes.Worker.Browsers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Tests;

public sealed class RegistrationTests
{
    [Fact]
    public void AddChromiumBrowsers_binds_the_worker_section_and_hosts_one_pool_and_one_session_registry()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Worker:ChromiumPath"] = "/opt/chromium/chrome",
            ["Worker:DataDir"] = "/var/lib/boxes",
            ["Worker:PoolSize"] = "3",
            ["Worker:ExtraArgs:0"] = "--window-size=1280,800",
        }).Build();
        using var services = new ServiceCollection().AddLogging().AddChromiumBrowsers(configuration).BuildServiceProvider();

        var options = services.GetRequiredService<IOptions<ChromiumOptions>>().Value;
        Assert.Equal("/opt/chromium/chrome", options.ChromiumPath);
        Assert.Equal("/var/lib/boxes", options.DataDir);
        Assert.Equal(3, options.PoolSize);
        Assert.Equal(["--window-size=1280,800"], options.ExtraArgs);

        // Hosted in this order so that shutdown (reverse order) stops sessions before the pool.
        var hosted = services.GetServices<IHostedService>().ToList();
        Assert.Equal(2, hosted.Count);
        Assert.Same(services.GetRequiredService<BrowserPool>(), hosted[0]);
        Assert.Same(services.GetRequiredService<BrowserSessions>(), hosted[1]);
    }

    [Fact]
    public async Task A_host_fills_the_pool_at_start_and_leaves_no_chromium_at_shutdown()
    {
        Assert.True(File.Exists(TestEnvironment.Chromium), $"Chromium not found at {TestEnvironment.Chromium}; set BOXES_CHROMIUM.");
        var dataDir = Directory.CreateTempSubdirectory("boxes-worker-test-");
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Worker:ChromiumPath"] = TestEnvironment.Chromium,
            ["Worker:DataDir"] = dataDir.FullName,
            ["Worker:PoolSize"] = "1",
        });
        builder.Services.AddChromiumBrowsers(builder.Configuration);
        using var host = builder.Build();

        await host.StartAsync();
        var pool = host.Services.GetRequiredService<BrowserPool>();
        await Eventually.Until(() => pool.IdleCount == 1, TimeSpan.FromSeconds(20), "the pool to fill at start");
        var sessions = host.Services.GetRequiredService<BrowserSessions>();
        var browser = await sessions.StartAsync(Guid.NewGuid(), CancellationToken.None);
        await host.StopAsync();

        Assert.Equal(0, sessions.Count);
        Assert.Equal(0, pool.IdleCount);
        Assert.True(browser.HasExited);
        Assert.Empty(dataDir.EnumerateDirectories("profile-*"));
        Assert.Empty(ProcessesUsing(dataDir.FullName));
        dataDir.Delete(recursive: true);
    }

    private static List<int> ProcessesUsing(string path) =>
        Directory.EnumerateDirectories("/proc")
            .Select(d => (Pid: int.TryParse(Path.GetFileName(d), out var pid) ? pid : 0, Dir: d))
            .Where(p => p.Pid > 0 && ReadOrEmpty(Path.Combine(p.Dir, "cmdline")).Contains(path, StringComparison.Ordinal))
            .Select(p => p.Pid)
            .ToList();

    private static string ReadOrEmpty(string file)
    {
        try { return File.ReadAllText(file); }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { return ""; }
    }

    [Fact]
    public void Defaults_run_debian_chromium_from_a_temp_folder()
    {
        var options = new ChromiumOptions();
        Assert.Equal("/usr/bin/chromium", options.ChromiumPath);
        Assert.StartsWith(Path.GetTempPath(), options.DataDir);
        Assert.True(options.PoolSize > 0);
        Assert.Equal(TimeSpan.FromSeconds(15), options.StartTimeout);
    }
}
