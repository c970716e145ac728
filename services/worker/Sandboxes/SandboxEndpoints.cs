using System.Buffers;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Boxes.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Boxes.Worker.Sandboxes;

/// <summary>
/// The sandbox data plane (docs/INTERNAL.md): exec, run-code, files, terminal, pause/resume and checkpoint,
/// reached by the API only, with the internal key. Errors use the public error shape so the API passes them on.
/// </summary>
public static class SandboxEndpoints
{
    public static IEndpointRouteBuilder MapSandboxEndpoints(this IEndpointRouteBuilder app)
    {
        var sandboxes = app.MapGroup("/sandboxes/{id:guid}").RequireInternalKey();

        sandboxes.MapPost("/exec", async (Guid id, HttpContext http, HttpRequest request, SandboxSessions sessions, IOptions<SandboxOptions> options, CancellationToken ct) =>
        {
            var (session, missing) = await FindAsync(sessions, id, http);
            if (missing is not null) return missing;
            var (body, error) = await ReadJsonAsync(request, ct);
            if (error is not null) return error;
            var (exec, invalid) = ParseExec(body, options.Value);
            if (invalid is not null) return invalid;
            return await RunAsync(() => session!.ExecAsync(exec!, ct));
        });

        sandboxes.MapPost("/run-code", async (Guid id, HttpContext http, HttpRequest request, SandboxSessions sessions, IOptions<SandboxOptions> options, CancellationToken ct) =>
        {
            var (session, missing) = await FindAsync(sessions, id, http);
            if (missing is not null) return missing;
            var (body, error) = await ReadJsonAsync(request, ct);
            if (error is not null) return error;
            if (!body.TryGetProperty("code", out var code) || code.ValueKind != JsonValueKind.String)
                return Error(400, "VALIDATION_FAILED", "code: a string of source code is required.");
            var (timeout, invalid) = ParseTimeout(body, options.Value);
            if (invalid is not null) return invalid;
            if (session!.Runtime == Boxes.Contracts.SandboxRuntimes.Bun && !HasBun(options.Value))
                return Error(409, "CONFLICT", "This worker has no bun installed (Sandbox:BunPath); run-code for the bun runtime is unavailable.");
            return await RunAsync(() => session.RunCodeAsync(code.GetString()!, timeout, ct));
        });

        sandboxes.MapGet("/fs/read", async (Guid id, string? path, HttpContext http, SandboxSessions sessions, IOptions<SandboxOptions> options, CancellationToken ct) =>
        {
            var (session, missing) = await FindAsync(sessions, id, http);
            if (missing is not null) return missing;
            if (CheckPath(path, required: true) is { } bad) return bad;
            try
            {
                var bytes = await session!.Sandbox.Agent.ReadFileAsync(path!, options.Value.MaxFileBytes, ct);
                return Results.Bytes(bytes, "application/octet-stream");
            }
            catch (AgentException ex)
            {
                return FromAgent(ex);
            }
        });

        sandboxes.MapPut("/fs/write", async (Guid id, string? path, HttpContext http, HttpRequest request, SandboxSessions sessions, IOptions<SandboxOptions> options, CancellationToken ct) =>
        {
            var (session, missing) = await FindAsync(sessions, id, http);
            if (missing is not null) return missing;
            if (CheckPath(path, required: true) is { } bad) return bad;
            var (content, tooLarge) = await ReadBodyAsync(request, options.Value.MaxFileBytes, ct);
            if (tooLarge is not null) return tooLarge;
            try
            {
                var size = await session!.Sandbox.Agent.WriteFileAsync(path!, content, ct);
                return Results.Json(new { path, size });
            }
            catch (AgentException ex)
            {
                return FromAgent(ex);
            }
        });

        sandboxes.MapGet("/fs/list", async (Guid id, string? path, HttpContext http, SandboxSessions sessions, CancellationToken ct) =>
        {
            var (session, missing) = await FindAsync(sessions, id, http);
            if (missing is not null) return missing;
            if (CheckPath(path, required: false) is { } bad) return bad;
            try
            {
                var entries = await session!.Sandbox.Agent.ListAsync(path ?? "/workspace", ct);
                return Results.Json(new
                {
                    entries = entries.OrderBy(e => e.Name, StringComparer.Ordinal).Select(e => new
                    {
                        name = e.Name,
                        type = e.Type switch { FileEntryType.File => "file", FileEntryType.Directory => "dir", FileEntryType.Symlink => "symlink", _ => "other" },
                        size = e.Size,
                        mtime = e.ModifiedAt,
                    }),
                });
            }
            catch (AgentException ex)
            {
                return FromAgent(ex);
            }
        });

        sandboxes.MapPost("/pause", async (Guid id, SandboxSessions sessions, CancellationToken ct) =>
        {
            if (!sessions.TryGet(id, out var session)) return NotRunning(id);
            if (!session.Paused) await session.PauseAsync(ct);
            return Results.Json(new { status = "paused" });
        });

        sandboxes.MapPost("/resume", async (Guid id, SandboxSessions sessions, CancellationToken ct) =>
        {
            if (!sessions.TryGet(id, out var session)) return NotRunning(id);
            if (session.Paused) await session.ResumeAsync(ct);
            return Results.Json(new { status = "ready" });
        });

        sandboxes.MapPost("/checkpoint", async (Guid id, HttpContext http, SandboxSessions sessions, ICheckpointStore store, IOptions<SandboxOptions> options, CancellationToken ct) =>
        {
            var (session, missing) = await FindAsync(sessions, id, http);
            if (missing is not null) return missing;
            try
            {
                var saved = await session!.CheckpointAsync(store, options.Value.DataDir, ct);
                return Results.Json(new
                {
                    artifactId = saved.ArtifactId, kind = saved.Kind, contentType = saved.ContentType,
                    sizeBytes = saved.SizeBytes, sha256 = saved.Sha256, createdAt = saved.CreatedAt,
                }, statusCode: 201);
            }
            catch (AgentException ex)
            {
                return FromAgent(ex);
            }
        });

        sandboxes.Map("/terminal", async (Guid id, HttpContext http, SandboxSessions sessions, int? cols, int? rows) =>
        {
            var (session, missing) = await FindAsync(sessions, id, http);
            if (missing is not null) return missing;
            if (!http.WebSockets.IsWebSocketRequest) return Error(400, "VALIDATION_FAILED", "This route takes a WebSocket upgrade.");
            await SandboxTerminal.RunAsync(http, session!, Math.Clamp(cols ?? 80, 10, 1000), Math.Clamp(rows ?? 24, 5, 1000));
            return Results.Empty;
        });
        return app;
    }

    private static bool HasBun(SandboxOptions o) => o.BunPath.Length > 0 && File.Exists(o.BunPath);

    /// <summary>How long a request may wait for its box's start (the API forwards as soon as the box is placed on us).</summary>
    public const string StartWaitHeader = "X-Boxes-Start-Wait-Ms";
    private static readonly TimeSpan MaxStartWait = TimeSpan.FromSeconds(30);

    /// <summary>The box's session when it runs here and can work; otherwise the answer to give.</summary>
    private static async Task<(SandboxSession? Session, IResult? Error)> FindAsync(SandboxSessions sessions, Guid id, HttpContext http)
    {
        if (!sessions.TryGet(id, out var session)
            && int.TryParse(http.Request.Headers[StartWaitHeader], out var waitMs) && waitMs > 0)
        {
            try
            {
                session = await sessions.WaitForStartAsync(id, TimeSpan.FromMilliseconds(Math.Min(waitMs, MaxStartWait.TotalMilliseconds)), http.RequestAborted);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return (null, Error(409, "CONFLICT", $"The sandbox failed to start: {ex.Message}"));
            }
        }
        if (session is null) return (null, NotRunning(id));
        if (session.Paused) return (null, Error(409, "CONFLICT", "The sandbox is paused: resume it first."));
        return (session, null);
    }

    private static IResult NotRunning(Guid id) => Error(404, "NOT_FOUND", $"Sandbox {id} is not running on this worker.");

    private static async Task<IResult> RunAsync(Func<Task<ExecResult>> run)
    {
        try
        {
            var r = await run();
            return Results.Json(new
            {
                stdout = r.Stdout, stderr = r.Stderr, exitCode = r.ExitCode, durationMs = r.DurationMs, timedOut = r.TimedOut,
                stdoutTruncated = r.StdoutTruncated, stderrTruncated = r.StderrTruncated,
            });
        }
        catch (AgentException ex) when (ex.Code == AgentError.Spawn)
        {
            // A command that does not exist is an answer, as a shell gives it, not a failed request.
            return Results.Json(new
            {
                stdout = "", stderr = $"boxes: {ex.Message}\n", exitCode = 127, durationMs = 0, timedOut = false,
                stdoutTruncated = false, stderrTruncated = false,
            });
        }
        catch (AgentException ex)
        {
            return FromAgent(ex);
        }
    }

    public static IResult FromAgent(AgentException ex) => ex.Code switch
    {
        AgentError.NotFound => Error(404, "NOT_FOUND", ex.Message),
        AgentError.TooLarge => Error(413, "VALIDATION_FAILED", ex.Message),
        AgentError.NoSpace => Error(507, "WORKSPACE_FULL", ex.Message),
        AgentError.Invalid or AgentError.NotRegular or AgentError.Symlink or AgentError.HardLink or AgentError.NotDirectory =>
            Error(400, "VALIDATION_FAILED", ex.Message),
        AgentError.Limit => Error(409, "CONFLICT", ex.Message),
        AgentError.Gone => Error(409, "CONFLICT", "The sandbox is not running any more."),
        _ => Error(500, "INTERNAL", ex.Message),
    };

    public static IResult Error(int status, string code, string message) =>
        Results.Json(new { error = new { code, message } }, statusCode: status);

    private static IResult? CheckPath(string? path, bool required)
    {
        if (path is null) return required ? Error(400, "VALIDATION_FAILED", "path: a path under /workspace is required.") : null;
        if (path.Length is 0 or > 4096) return Error(400, "VALIDATION_FAILED", "path: 1 to 4096 characters.");
        if (path.Contains('\0')) return Error(400, "VALIDATION_FAILED", "path: must not contain NUL.");
        return null;
    }

    private static async Task<(JsonElement Body, IResult? Error)> ReadJsonAsync(HttpRequest request, CancellationToken ct)
    {
        try
        {
            using var doc = await JsonDocument.ParseAsync(request.Body, cancellationToken: ct);
            return doc.RootElement.ValueKind == JsonValueKind.Object
                ? (doc.RootElement.Clone(), null)
                : (default, Error(400, "VALIDATION_FAILED", "The body must be a JSON object."));
        }
        catch (JsonException ex)
        {
            return (default, Error(400, "VALIDATION_FAILED", $"The body is not valid JSON: {ex.Message}"));
        }
    }

    private static async Task<(byte[] Content, IResult? Error)> ReadBodyAsync(HttpRequest request, int max, CancellationToken ct)
    {
        if (request.HttpContext.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
            limit.MaxRequestBodySize = max + 1L;
        if (request.ContentLength > max) return ([], Error(413, "VALIDATION_FAILED", $"The file is larger than {max} bytes."));
        using var buffer = new MemoryStream();
        var chunk = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            int read;
            while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
            {
                if (buffer.Length + read > max) return ([], Error(413, "VALIDATION_FAILED", $"The file is larger than {max} bytes."));
                buffer.Write(chunk, 0, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
        return (buffer.ToArray(), null);
    }

    private static (TimeSpan Timeout, IResult? Error) ParseTimeout(JsonElement body, SandboxOptions o)
    {
        if (!body.TryGetProperty("timeoutMs", out var t) || t.ValueKind == JsonValueKind.Null) return (o.DefaultExecTimeout, null);
        if (t.ValueKind != JsonValueKind.Number || !t.TryGetInt64(out var ms) || ms < 1 || ms > o.MaxExecTimeout.TotalMilliseconds)
            return (default, Error(400, "VALIDATION_FAILED", $"timeoutMs: a whole number from 1 to {o.MaxExecTimeout.TotalMilliseconds:0}."));
        return (TimeSpan.FromMilliseconds(ms), null);
    }

    private static (ExecRequest? Exec, IResult? Error) ParseExec(JsonElement body, SandboxOptions o)
    {
        static IResult Bad(string message) => Error(400, "VALIDATION_FAILED", message);
        if (!body.TryGetProperty("command", out var c) || c.ValueKind != JsonValueKind.String || c.GetString()!.Length == 0)
            return (null, Bad("command: a non-empty string is required."));
        var command = c.GetString()!;
        if (command.Contains('\0')) return (null, Bad("command: must not contain NUL."));
        List<string>? args = null;
        if (body.TryGetProperty("args", out var a) && a.ValueKind != JsonValueKind.Null)
        {
            if (a.ValueKind != JsonValueKind.Array || a.EnumerateArray().Any(x => x.ValueKind != JsonValueKind.String))
                return (null, Bad("args: an array of strings is expected."));
            args = a.EnumerateArray().Select(x => x.GetString()!).ToList();
            if (args.Count > 4096) return (null, Bad("args: at most 4096 arguments."));
            if (args.Any(x => x.Contains('\0'))) return (null, Bad("args: must not contain NUL."));
        }
        string? cwd = null;
        if (body.TryGetProperty("cwd", out var w) && w.ValueKind != JsonValueKind.Null)
        {
            if (w.ValueKind != JsonValueKind.String || w.GetString()!.Length is 0 or > 4096 || w.GetString()!.Contains('\0'))
                return (null, Bad("cwd: a folder path is expected."));
            cwd = w.GetString();
        }
        Dictionary<string, string>? env = null;
        if (body.TryGetProperty("env", out var e) && e.ValueKind != JsonValueKind.Null)
        {
            if (e.ValueKind != JsonValueKind.Object) return (null, Bad("env: an object of string values is expected."));
            env = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var p in e.EnumerateObject())
            {
                if (p.Value.ValueKind != JsonValueKind.String) return (null, Bad($"env.{p.Name}: a string value is expected."));
                if (!IsEnvName(p.Name)) return (null, Bad($"env: \"{p.Name}\" is not a valid variable name."));
                if (p.Value.GetString()!.Contains('\0')) return (null, Bad($"env.{p.Name}: must not contain NUL."));
                env[p.Name] = p.Value.GetString()!;
            }
        }
        string? stdin = null;
        if (body.TryGetProperty("stdin", out var s) && s.ValueKind != JsonValueKind.Null)
        {
            if (s.ValueKind != JsonValueKind.String) return (null, Bad("stdin: a string is expected."));
            stdin = s.GetString();
        }
        var (timeout, invalid) = ParseTimeout(body, o);
        return invalid is not null ? (null, invalid) : (new ExecRequest(command, args, cwd, env, stdin, timeout), null);
    }

    public static bool IsEnvName(string name) =>
        name.Length is > 0 and <= 256 && (char.IsAsciiLetter(name[0]) || name[0] == '_') && name.All(ch => char.IsAsciiLetterOrDigit(ch) || ch == '_');
}

/// <summary>An interactive shell on a pty, relayed over a WebSocket.</summary>
public static class SandboxTerminal
{
    private sealed record Control(string? Type, int? Cols, int? Rows, string? Data);

    public static async Task RunAsync(HttpContext http, SandboxSession session, int cols, int rows)
    {
        var shell = File.Exists("/usr/bin/bash") ? new[] { "/bin/bash", "-l" } : ["/bin/sh", "-l"];
        AgentProcess process;
        try
        {
            process = await session.Sandbox.Agent.StartAsync(
                new ProcessSpec(shell, session.Environment(null, terminal: true), "/workspace", null, Pty: true, Cols: cols, Rows: rows),
                http.RequestAborted);
        }
        catch (AgentException ex)
        {
            await SandboxEndpoints.FromAgent(ex).ExecuteAsync(http);
            return;
        }
        using var socket = await http.WebSockets.AcceptWebSocketAsync();
        using var done = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted);
        var toClient = Task.Run(async () =>
        {
            await foreach (var (_, data) in process.Output.Reader.ReadAllAsync(done.Token))
                await socket.SendAsync(data, WebSocketMessageType.Binary, true, done.Token);
            var exit = await process.Exited;
            var message = JsonSerializer.SerializeToUtf8Bytes(new { type = "exit", exitCode = exit.ShellCode });
            await socket.SendAsync(message, WebSocketMessageType.Text, true, done.Token);
            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "shell exited", done.Token);
        });
        var fromClient = Task.Run(async () =>
        {
            var buffer = new byte[64 * 1024];
            using var message = new MemoryStream();
            while (true)
            {
                var r = await socket.ReceiveAsync(buffer, done.Token);
                if (r.MessageType == WebSocketMessageType.Close) return;
                message.Write(buffer, 0, r.Count);
                if (!r.EndOfMessage) continue;
                var bytes = message.ToArray();
                message.SetLength(0);
                if (r.MessageType == WebSocketMessageType.Binary)
                {
                    await process.WriteInputAsync(bytes, done.Token);
                    continue;
                }
                Control? control;
                try { control = JsonSerializer.Deserialize<Control>(bytes, Boxes.Contracts.BoxesJson.Options); }
                catch (JsonException) { control = null; }
                switch (control)
                {
                    case { Type: "resize", Cols: { } c, Rows: { } rw }:
                        await process.ResizeAsync(Math.Clamp(c, 10, 1000), Math.Clamp(rw, 5, 1000), done.Token);
                        break;
                    case { Type: "input", Data: { } d }:
                        await process.WriteInputAsync(Encoding.UTF8.GetBytes(d), done.Token);
                        break;
                    default:
                        // Plain text typed by a simple client: treat it as input.
                        await process.WriteInputAsync(bytes, done.Token);
                        break;
                }
            }
        });
        try
        {
            if (await Task.WhenAny(toClient, fromClient) == toClient)
            {
                // The shell ended and the close frame is out: let the client answer it. Cancelling the receive
                // now would abort the socket, and an abortive close can make the peer drop what was just sent.
                await Quietly(fromClient.WaitAsync(TimeSpan.FromSeconds(5)));
            }
            else if (!process.Exited.IsCompleted)
            {
                // The client left: hang up the shell like a closed terminal would, and make sure it goes.
                try
                {
                    await process.SignalAsync(1, CancellationToken.None);
                    await process.Exited.WaitAsync(TimeSpan.FromSeconds(2));
                }
                catch (Exception ex) when (ex is AgentException or TimeoutException)
                {
                    try { await process.SignalAsync(9, CancellationToken.None); }
                    catch (AgentException) { }
                }
            }
        }
        finally
        {
            await done.CancelAsync();
            await Quietly(Task.WhenAll(toClient, fromClient));
        }
    }

    private static async Task Quietly(Task task)
    {
        try { await task; }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or AgentException or TimeoutException or InvalidOperationException) { }
    }
}
