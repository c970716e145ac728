using Boxes.Testing;
using Boxes.Worker.Browsers;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Tests;

/// <summary>
/// A fresh DataDir, launcher, pool and session registry per test, against the real Chromium
/// (BOXES_CHROMIUM, default /usr/bin/chromium). Disposal proves the test left no process and no profile behind.
/// </summary>
public abstract class ChromiumTestBase(ITestOutputHelper output) : IAsyncLifetime
{
    protected static readonly TimeSpan Deadline = TimeSpan.FromSeconds(20);

    protected ITestOutputHelper Output { get; } = output;
    protected DirectoryInfo DataDir { get; } = Directory.CreateTempSubdirectory("boxes-worker-test-");
    protected ILoggerFactory Logs { get; private set; } = null!;
    protected ChromiumOptions Options { get; private set; } = null!;
    protected ChromiumLauncher Launcher { get; private set; } = null!;
    protected BrowserPool Pool { get; private set; } = null!;
    protected BrowserSessions Sessions { get; private set; } = null!;

    /// <summary>Pool size for this test class; 0 keeps the pool from launching anything on its own.</summary>
    protected virtual int PoolSize => 1;

    public virtual Task InitializeAsync()
    {
        // A missing Chromium fails every test here; it must never turn into a silent pass.
        Assert.True(File.Exists(TestEnvironment.Chromium),
            $"Chromium not found at {TestEnvironment.Chromium}. Install it (apt-get install chromium) or set BOXES_CHROMIUM; scripts/test.sh does both.");
        Logs = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Information).AddProvider(new TestOutputLoggerProvider(Output)));
        Options = new ChromiumOptions { ChromiumPath = TestEnvironment.Chromium, DataDir = DataDir.FullName, PoolSize = PoolSize };
        Launcher = NewLauncher(Options);
        Pool = new BrowserPool(Launcher, Microsoft.Extensions.Options.Options.Create(Options), Logs.CreateLogger<BrowserPool>());
        Sessions = new BrowserSessions(Pool, Logs.CreateLogger<BrowserSessions>());
        return Task.CompletedTask;
    }

    protected ChromiumLauncher NewLauncher(ChromiumOptions options) =>
        new(Microsoft.Extensions.Options.Options.Create(options), Logs.CreateLogger<ChromiumLauncher>());

    public async Task DisposeAsync()
    {
        await Sessions.StopAsync(CancellationToken.None);
        await Pool.StopAsync(CancellationToken.None);
        await Eventually.Until(() => ProcessesUsing(DataDir.FullName).Count == 0, Deadline,
            $"every process started under {DataDir.FullName} to be gone (left: {Describe(ProcessesUsing(DataDir.FullName))})");
        Assert.Empty(DataDir.EnumerateDirectories("profile-*"));
        DataDir.Delete(recursive: true);
        Logs.Dispose();
    }

    /// <summary>Live processes whose command line mentions <paramref name="path"/> (zombies have an empty one).</summary>
    protected static List<int> ProcessesUsing(string path)
    {
        var pids = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid)) continue;
            try
            {
                if (File.ReadAllText(Path.Combine(dir, "cmdline")).Contains(path, StringComparison.Ordinal)) pids.Add(pid);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException) { }
        }
        return pids;
    }

    protected static string CommandLine(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ').Trim(); }
        catch (IOException) { return "(gone)"; }
    }

    protected static string Describe(IEnumerable<int> pids) =>
        string.Join("; ", pids.Select(p => $"{p}: {CommandLine(p)[..Math.Min(120, CommandLine(p).Length)]}"));

    /// <summary><c>kill -9 pid</c>: on Unix, Process.Kill sends SIGKILL.</summary>
    protected static void KillDashNine(int pid)
    {
        using var process = System.Diagnostics.Process.GetProcessById(pid);
        process.Kill();
    }
}

/// <summary>Sends the code under test's logs to the test's output; quiet once the test is over.</summary>
internal sealed class TestOutputLoggerProvider(ITestOutputHelper output) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new Logger(output, categoryName[(categoryName.LastIndexOf('.') + 1)..]);
    public void Dispose() { }

    private sealed class Logger(ITestOutputHelper output, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;
        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            try
            {
                output.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel,-11} {category}: {formatter(state, exception)}{(exception is null ? "" : " | " + exception.GetBaseException().Message)}");
            }
            catch (InvalidOperationException)
            {
                // A background refill logging after its test ended.
            }
        }
    }
}
