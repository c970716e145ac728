using System.Collections.Concurrent;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Boxes.Contracts;
using Boxes.ServiceDefaults;
using Boxes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Boxes.Api.Tests;

/// <summary>
/// Stands in for a worker's sandbox data plane (docs/INTERNAL.md) with just enough behaviour to see what the API
/// sends and passes back: exec echoes its request, files live in memory, the terminal echoes frames after a hello
/// naming the size it was opened with, and a checkpoint is stored with the (fake) artifacts service and recorded
/// on the box's stream, as the real ones do. Every request must carry the internal key; one that does not is
/// refused and counted.
/// </summary>
public sealed class FakeWorker : IAsyncDisposable
{
    private LoopbackServer _server = null!;
    private readonly ConcurrentDictionary<(Guid Box, string Path), byte[]> _files = new();
    private readonly ConcurrentQueue<(string Route, JsonObject? Body, string? Query)> _requests = new();
    private int _withoutKey;
    private int _terminals;

    private FakeWorker() { }

    public string Address => _server.Address;
    public int RequestsWithoutKey => Volatile.Read(ref _withoutKey);
    public int TerminalConnections => Volatile.Read(ref _terminals);
    /// <summary>What reached the worker, in order: the route (e.g. "exec"), its JSON body, its query string.</summary>
    public IReadOnlyList<(string Route, JsonObject? Body, string? Query)> Requests => [.. _requests];

    /// <summary>Runs while the worker handles a pause, before it answers: lets a test move the box on meanwhile.</summary>
    public Func<Guid, Task>? DuringPause { get; set; }

    public string EndpointFor(Guid boxId) => $"{Address}/sandboxes/{boxId}";

    public static async Task<FakeWorker> StartAsync(ApiHost host)
    {
        var worker = new FakeWorker();
        // fs/write may carry up to 64 MiB, as the real worker allows.
        worker._server = await LoopbackServer.StartAsync(app => worker.Map(app, host), kestrel: k => k.Limits.MaxRequestBodySize = 64L * 1024 * 1024);
        return worker;
    }

    private void Map(WebApplication app, ApiHost host)
    {
        app.UseWebSockets();
        app.Use(async (http, next) =>
        {
            if (http.Request.Headers[InternalApi.HeaderName] != ApiHost.InternalKey)
            {
                Interlocked.Increment(ref _withoutKey);
                http.Response.StatusCode = 401;
                await http.Response.WriteAsJsonAsync(new { error = new { code = "UNAUTHENTICATED", message = "internal key required" } });
                return;
            }
            await next(http);
        });

        var box = app.MapGroup("/sandboxes/{id:guid}");
        box.MapPost("/exec", async (Guid id, HttpContext http) =>
        {
            var body = await Record("exec", http);
            var command = body!["command"]!.GetValue<string>();
            // A command the tests use to see that the worker's own status and error pass through as they are.
            if (command == "teapot")
                return Results.Json(new { error = new { code = "TEAPOT", message = "the worker says no" } }, statusCode: 418);
            var args = body["args"]?.AsArray().Select(a => a!.GetValue<string>()) ?? [];
            return Results.Json(new
            {
                stdout = string.Join(' ', args.Prepend(command)) + "\n",
                stderr = "",
                exitCode = 0,
                durationMs = 3,
                timedOut = false,
                servedBy = "fake-worker",
            });
        });
        box.MapPost("/run-code", async (Guid id, HttpContext http) =>
        {
            var body = await Record("run-code", http);
            return Results.Json(new { stdout = body!["code"]!.GetValue<string>(), stderr = "", exitCode = 0, durationMs = 1, timedOut = false });
        });
        box.MapPut("/fs/write", async (Guid id, string path, HttpContext http) =>
        {
            _requests.Enqueue(("fs/write", null, http.Request.QueryString.Value));
            using var ms = new MemoryStream();
            await http.Request.Body.CopyToAsync(ms);
            _files[(id, path)] = ms.ToArray();
            return Results.Json(new { path, size = ms.Length });
        });
        box.MapGet("/fs/read", (Guid id, string path, HttpContext http) =>
        {
            _requests.Enqueue(("fs/read", null, http.Request.QueryString.Value));
            return _files.TryGetValue((id, path), out var bytes)
                ? Results.Bytes(bytes, "application/octet-stream")
                : Results.Json(new { error = new { code = "NOT_FOUND", message = $"{path} does not exist" } }, statusCode: 404);
        });
        box.MapGet("/fs/list", (Guid id, string path, HttpContext http) =>
        {
            _requests.Enqueue(("fs/list", null, http.Request.QueryString.Value));
            var entries = _files.Where(f => f.Key.Box == id && f.Key.Path.StartsWith(path.TrimEnd('/') + "/", StringComparison.Ordinal))
                .Select(f => new { name = f.Key.Path[(path.TrimEnd('/').Length + 1)..], type = "file", size = f.Value.Length, mtime = 0 });
            return Results.Json(new { entries });
        });
        box.MapPost("/pause", async (Guid id, HttpContext http) =>
        {
            await Record("pause", http);
            if (DuringPause is { } during) await during(id);
            return Results.Json(new { status = "paused" });
        });
        box.MapPost("/resume", async (Guid id, HttpContext http) =>
        {
            await Record("resume", http);
            return Results.Json(new { status = "ready" });
        });
        box.MapPost("/checkpoint", async (Guid id, HttpContext http) =>
        {
            await Record("checkpoint", http);
            var owner = (await host.Store.ReadStreamAsync(Streams.ForBox(id))).Select(StoredEvents.Deserialize).OfType<BoxRequested>().Single().OrganizationId;
            var bytes = Encoding.UTF8.GetBytes($"workspace of {id} at {DateTimeOffset.UtcNow:O}");
            var stored = host.Artifacts.Add(id, owner, ArtifactKinds.Checkpoint, "application/gzip", bytes);
            // As the artifacts service does: ArtifactCreated is on the box's stream before the worker answers.
            await host.Append(id, new ArtifactCreated(id, stored.ArtifactId, owner, stored.Kind, stored.ContentType, stored.SizeBytes, stored.Sha256,
                stored.CreatedAt));
            return Results.Json(new { stored.ArtifactId, stored.Kind, stored.ContentType, stored.SizeBytes, stored.Sha256, stored.CreatedAt });
        });
        box.Map("/terminal", async (Guid id, HttpContext http) =>
        {
            if (!http.WebSockets.IsWebSocketRequest) return Results.BadRequest();
            Interlocked.Increment(ref _terminals);
            using var ws = await http.WebSockets.AcceptWebSocketAsync();
            var hello = JsonSerializer.SerializeToUtf8Bytes(new { type = "hello", cols = http.Request.Query["cols"].ToString(), rows = http.Request.Query["rows"].ToString() });
            await ws.SendAsync(hello, WebSocketMessageType.Text, true, http.RequestAborted);
            var buffer = new byte[64 * 1024];
            while (true)
            {
                WebSocketReceiveResult r;
                try { r = await ws.ReceiveAsync(buffer, http.RequestAborted); }
                catch (Exception ex) when (ex is WebSocketException or OperationCanceledException) { break; }
                if (r.MessageType == WebSocketMessageType.Close) break;
                await ws.SendAsync(buffer.AsMemory(0, r.Count), r.MessageType, r.EndOfMessage, http.RequestAborted);
            }
            return Results.Empty;
        });
    }

    private async Task<JsonObject?> Record(string route, HttpContext http)
    {
        var text = await new StreamReader(http.Request.Body).ReadToEndAsync();
        var body = text.Length == 0 ? null : JsonNode.Parse(text)!.AsObject();
        _requests.Enqueue((route, body, http.Request.QueryString.Value));
        return body;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
