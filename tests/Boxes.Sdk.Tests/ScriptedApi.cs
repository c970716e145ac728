using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Boxes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Boxes.Sdk.Tests;

/// <summary>
/// A stand-in for the API on <c>http://127.0.0.1:0</c> that answers each request the way the test scripts it (fail on
/// cue, then succeed) and records every request it got, so a test can count attempts and read their headers.
/// </summary>
public sealed class ScriptedApi : IAsyncDisposable
{
    /// <summary>One request as it arrived.</summary>
    public sealed record Seen(int Number, string Method, string PathAndQuery, string? IdempotencyKey, string? Authorization,
        string? UserAgent, string? ContentType, byte[] Body, TimeSpan At);

    private LoopbackServer _server = null!;
    private readonly ConcurrentQueue<Seen> _seen = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private int _count;

    private ScriptedApi() { }

    /// <summary>The API's base URL.</summary>
    public string Url => _server.Address;

    /// <summary>Every request so far, in arrival order.</summary>
    public IReadOnlyList<Seen> Requests => [.. _seen.OrderBy(s => s.Number)];

    /// <summary>Starts a server whose <paramref name="answer"/> gets each request and its 1-based number.</summary>
    public static async Task<ScriptedApi> StartAsync(Func<HttpContext, int, Task> answer)
    {
        var api = new ScriptedApi();
        api._server = await LoopbackServer.StartAsync(app => api.Map(app, answer));
        return api;
    }

    private void Map(WebApplication app, Func<HttpContext, int, Task> answer)
    {
        app.Run(async http =>
        {
            using var body = new MemoryStream();
            await http.Request.Body.CopyToAsync(body, http.RequestAborted);
            var number = Interlocked.Increment(ref _count);
            string? Header(string name) => http.Request.Headers.TryGetValue(name, out var v) ? v.ToString() : null;
            _seen.Enqueue(new Seen(number, http.Request.Method, http.Request.Path + http.Request.QueryString, Header("Idempotency-Key"),
                Header("Authorization"), Header("User-Agent"), http.Request.ContentType, body.ToArray(), _clock.Elapsed));
            await answer(http, number);
        });
    }

    /// <summary>Answers with a status, an optional JSON body and optional headers.</summary>
    public static Task Reply(HttpContext http, int status, string? json = null, params (string Name, string Value)[] headers)
    {
        http.Response.StatusCode = status;
        foreach (var (name, value) in headers) http.Response.Headers[name] = value;
        if (json is null) return Task.CompletedTask;
        http.Response.ContentType = "application/json";
        return http.Response.WriteAsync(json);
    }

    /// <summary>The API's error body.</summary>
    public static string Error(string code, string message, string? requiredPlan = null, string? currentPlan = null) =>
        System.Text.Json.JsonSerializer.Serialize(new { error = new { code, message, requiredPlan, currentPlan } });

    /// <summary>A browser session body.</summary>
    public static string Session(string id, string status, string? cdpUrl = null, string? endReason = null) =>
        System.Text.Json.JsonSerializer.Serialize(new { id, status, weight = "light", cdpUrl, endReason, createdAt = DateTimeOffset.UtcNow });

    /// <summary>A sandbox body.</summary>
    public static string SandboxBody(string id, string status) =>
        System.Text.Json.JsonSerializer.Serialize(new { id, status, runtime = "python", size = "standard" });

    /// <summary>A loopback port nothing listens on (bound, read, released).</summary>
    public static int UnusedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}

/// <summary>Counts the attempts that leave the client (including those that never reach a server).</summary>
public sealed class CountingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
{
    private int _attempts;

    public int Attempts => Volatile.Read(ref _attempts);

    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _attempts);
        return base.SendAsync(request, cancellationToken);
    }
}
