using System.Text;
using Boxes.Contracts;

namespace Boxes.Worker.Sandboxes;

/// <summary>What an exec answers (the data plane's JSON).</summary>
public sealed record ExecResult(string Stdout, string Stderr, int ExitCode, long DurationMs, bool TimedOut, bool StdoutTruncated, bool StderrTruncated);

/// <summary>An exec as the data plane receives it.</summary>
public sealed record ExecRequest(
    string Command, IReadOnlyList<string>? Args, string? Cwd, IReadOnlyDictionary<string, string>? Env, string? Stdin, TimeSpan Timeout);

/// <summary>Where checkpoints go and come from (the artifacts service; a seam for tests).</summary>
public interface ICheckpointStore
{
    /// <summary>Stores a workspace archive as a checkpoint artifact of the box; returns its record.</summary>
    Task<CheckpointRecord> SaveAsync(Guid artifactId, Guid boxId, Guid organizationId, Stream archive, CancellationToken ct);

    /// <summary>Opens a checkpoint's archive, or null when it does not exist or belongs to another organisation.</summary>
    Task<Stream?> OpenAsync(Guid artifactId, Guid organizationId, CancellationToken ct);
}

public sealed record CheckpointRecord(Guid ArtifactId, string Kind, string ContentType, long SizeBytes, string Sha256, DateTimeOffset CreatedAt);

/// <summary>
/// A box's sandbox while it runs: the sandbox process plus what the client asked for (runtime, environment),
/// and the operations of the data plane on it.
/// </summary>
public sealed class SandboxSession(Guid boxId, Guid organizationId, BoxSpec spec, SandboxProcess sandbox, SandboxOptions options)
{
    public Guid BoxId { get; } = boxId;
    public Guid OrganizationId { get; } = organizationId;
    public BoxSpec Spec { get; } = spec;
    public SandboxProcess Sandbox { get; } = sandbox;
    public string Runtime => Spec.Runtime ?? SandboxRuntimes.Bun;

    /// <summary>True between pause and resume; the data plane refuses work meanwhile (a frozen process would never answer).</summary>
    public bool Paused { get; private set; }
    private readonly SemaphoreSlim _stateLock = new(1, 1);

    /// <summary>The environment every command starts with: a fixed base, then the sandbox's own env, then the exec's.</summary>
    public IReadOnlyDictionary<string, string> Environment(IReadOnlyDictionary<string, string>? overrides, bool terminal = false)
    {
        var env = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["PATH"] = "/opt/boxes/bin:/usr/local/bin:/usr/bin:/bin",
            ["HOME"] = "/workspace",
            ["USER"] = "sandbox",
            ["LOGNAME"] = "sandbox",
            ["SHELL"] = "/bin/bash",
            ["LANG"] = "C.UTF-8",
            ["TMPDIR"] = "/tmp",
            ["PYTHONUNBUFFERED"] = "1",
            ["BOXES_SANDBOX_ID"] = BoxId.ToString(),
        };
        if (terminal) env["TERM"] = "xterm-256color";
        foreach (var (k, v) in Spec.Env ?? new Dictionary<string, string>()) env[k] = v;
        foreach (var (k, v) in overrides ?? new Dictionary<string, string>()) env[k] = v;
        return env;
    }

    /// <summary>
    /// Runs a command to its end. Without args it runs through <c>/bin/sh -c</c>; with args it is executed
    /// directly. Output beyond the cap is dropped and reported as truncated.
    /// </summary>
    public async Task<ExecResult> ExecAsync(ExecRequest request, CancellationToken ct)
    {
        IReadOnlyList<string> argv = request.Args is null ? ["/bin/sh", "-c", request.Command] : [request.Command, .. request.Args];
        var process = await Sandbox.Agent.StartAsync(
            new ProcessSpec(argv, Environment(request.Env), request.Cwd ?? "/workspace", request.Timeout), ct);
        async Task FeedAsync()
        {
            if (request.Stdin is { Length: > 0 } stdin) await process.WriteInputAsync(Encoding.UTF8.GetBytes(stdin), ct);
            await process.CloseInputAsync(ct);
        }
        var input = FeedAsync();
        var stdout = new CappedBuffer(options.MaxOutputBytes);
        var stderr = new CappedBuffer(options.MaxOutputBytes);
        ProcessExit exit;
        try
        {
            await foreach (var (stream, data) in process.Output.Reader.ReadAllAsync(ct))
                (stream == 2 ? stderr : stdout).Write(data);
            exit = await process.Exited.WaitAsync(ct);
        }
        catch (OperationCanceledException)
        {
            // Nobody waits for the answer any more (the client went away): the command goes too.
            try { await process.SignalAsync(9, CancellationToken.None); }
            catch (AgentException) { }
            throw;
        }
        try { await input; }
        catch (AgentException) { } // the process ended before taking all its input
        return new ExecResult(stdout.Text, stderr.Text, exit.ShellCode, (long)exit.Duration.TotalMilliseconds, exit.TimedOut,
            stdout.Truncated, stderr.Truncated);
    }

    /// <summary>Runs code with the sandbox's runtime: written to a private temp file, run, removed.</summary>
    public Task<ExecResult> RunCodeAsync(string code, TimeSpan timeout, CancellationToken ct)
    {
        var (extension, interpreter) = Runtime switch
        {
            SandboxRuntimes.Python => ("py", "python3"),
            SandboxRuntimes.Bun => ("ts", "bun"),
            _ => ("sh", "sh"),
        };
        // The code arrives on stdin, so its size is not bound by the argument limit and it never appears in a process list.
        var script = $"f=$(mktemp /tmp/boxes-run-XXXXXX.{extension}) || exit 125; cat > \"$f\"; {interpreter} \"$f\"; rc=$?; rm -f \"$f\"; exit $rc";
        return ExecAsync(new ExecRequest(script, null, null, null, code, timeout), ct);
    }

    public async Task PauseAsync(CancellationToken ct)
    {
        await _stateLock.WaitAsync(ct);
        try
        {
            Sandbox.Freeze();
            // v1's freezer passes through FREEZING; "paused" must mean every process has stopped.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
            while (!Sandbox.IsFrozen)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException("the sandbox's processes did not freeze within 10 s");
                await Task.Delay(2, ct);
            }
            Paused = true;
        }
        finally
        {
            _stateLock.Release();
        }
    }

    public async Task ResumeAsync(CancellationToken ct)
    {
        await _stateLock.WaitAsync(ct);
        try
        {
            Sandbox.Thaw();
            Paused = false;
        }
        finally
        {
            _stateLock.Release();
        }
    }

    /// <summary>
    /// Archives /workspace (tar.gz, made inside the sandbox) to a temp file first, so that a failing archive is
    /// never stored, then hands it to the checkpoint store.
    /// </summary>
    public async Task<CheckpointRecord> CheckpointAsync(ICheckpointStore store, string tempDir, CancellationToken ct)
    {
        Directory.CreateDirectory(tempDir);
        var file = Path.Combine(tempDir, $"checkpoint-{Guid.NewGuid():N}.tar.gz");
        try
        {
            var process = await Sandbox.Agent.StartAsync(
                new ProcessSpec(["tar", "-C", "/workspace", "-czf", "-", "."], Environment(null), "/workspace", options.MaxExecTimeout), ct);
            await process.CloseInputAsync(ct);
            var errors = new CappedBuffer(64 * 1024);
            await using (var archive = new FileStream(file, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true))
            {
                await foreach (var (stream, data) in process.Output.Reader.ReadAllAsync(ct))
                {
                    if (stream == 1) await archive.WriteAsync(data, ct);
                    else errors.Write(data);
                }
            }
            var exit = await process.Exited;
            // GNU tar exits 1 when a file changed while it was read: the archive is still whole.
            if (exit.ExitCode is not (0 or 1)) throw new InvalidOperationException($"archiving the workspace failed (tar exit {exit.ShellCode}): {errors.Text}");
            await using var content = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
            return await store.SaveAsync(Guid.CreateVersion7(), BoxId, OrganizationId, content, ct);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Unpacks a checkpoint's archive into /workspace (inside the sandbox, as its user).</summary>
    public async Task RestoreAsync(Stream archive, CancellationToken ct)
    {
        var process = await Sandbox.Agent.StartAsync(
            new ProcessSpec(["tar", "-C", "/workspace", "-xzf", "-"], Environment(null), "/workspace", options.MaxExecTimeout), ct);
        var errors = new CappedBuffer(64 * 1024);
        var drain = Task.Run(async () =>
        {
            await foreach (var (_, data) in process.Output.Reader.ReadAllAsync(ct)) errors.Write(data);
        }, ct);
        var buffer = new byte[64 * 1024];
        int read;
        while ((read = await archive.ReadAsync(buffer, ct)) > 0) await process.WriteInputAsync(buffer.AsMemory(0, read), ct);
        await process.CloseInputAsync(ct);
        var exit = await process.Exited;
        await drain;
        if (exit.ShellCode != 0) throw new InvalidOperationException($"restoring the checkpoint failed (tar exit {exit.ShellCode}): {errors.Text}");
    }

    /// <summary>Keeps the first <c>cap</c> bytes of a stream of output.</summary>
    private sealed class CappedBuffer(int cap)
    {
        private readonly MemoryStream _data = new();
        public bool Truncated { get; private set; }

        public void Write(byte[] bytes)
        {
            var room = cap - (int)_data.Length;
            if (bytes.Length > room) Truncated = true;
            if (room > 0) _data.Write(bytes, 0, Math.Min(room, bytes.Length));
        }

        public string Text => Encoding.UTF8.GetString(_data.GetBuffer(), 0, (int)_data.Length);
    }
}
