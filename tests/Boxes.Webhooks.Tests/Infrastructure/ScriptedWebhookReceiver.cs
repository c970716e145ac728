using System.Collections.Concurrent;
using System.Net;
using System.Text.Json.Nodes;
using Boxes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Boxes.Webhooks.Tests.Infrastructure;

/// <summary>One request as the receiver saw it.</summary>
public sealed record ReceivedWebhook(string Path, IReadOnlyDictionary<string, string> Headers, string Body, DateTimeOffset At)
{
    public string? Id => Headers.GetValueOrDefault("webhook-id");
    public string? Timestamp => Headers.GetValueOrDefault("webhook-timestamp");
    public string? Signature => Headers.GetValueOrDefault("webhook-signature");
    public JsonNode Json => JsonNode.Parse(Body)!;

    public bool VerifiesWith(string secret, DateTimeOffset now, out string why) =>
        StandardWebhooksVerifier.Verify(secret, Id, Timestamp, Signature, Body, now, out why);
}

/// <summary>How the receiver answers one request.</summary>
public sealed record Reply(int Status = 200)
{
    public TimeSpan Delay { get; init; }
    /// <summary>Holds the request open until <see cref="ScriptedWebhookReceiver.Release"/> (or the caller gives up), then answers.</summary>
    public bool Hold { get; init; }
    public IReadOnlyDictionary<string, string> Headers { get; init; } = new Dictionary<string, string>();

    public static Reply Ok { get; } = new(200);
    public static Reply With(int status, params (string Name, string Value)[] headers) =>
        new(status) { Headers = headers.ToDictionary(h => h.Name, h => h.Value) };
}

/// <summary>
/// A webhook receiver on a real loopback socket (Kestrel), as an organisation would run one: it records every
/// request per path and answers each path from a script (the n-th request gets the n-th reply; the last repeats;
/// 200 when unscripted).
/// </summary>
public sealed class ScriptedWebhookReceiver : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, PathState> _paths = new();
    private LoopbackServer _server = null!;

    public string Address => _server.Address;
    public int Port => _server.Port;

    private ScriptedWebhookReceiver() { }

    public static async Task<ScriptedWebhookReceiver> StartAsync(IPAddress? address = null, int port = 0)
    {
        var self = new ScriptedWebhookReceiver();
        self._server = await LoopbackServer.StartAsync(app => app.Map("/{**path}", (HttpContext http) => self.HandleAsync(http)), address, port);
        return self;
    }

    public string Url(string path) => $"{Address}/{path}";

    public void Script(string path, params Reply[] replies) => State(path).Script = replies;

    public IReadOnlyList<ReceivedWebhook> Received(string path)
    {
        var state = State(path);
        lock (state) return [.. state.Received];
    }

    /// <summary>The most requests this path had open at once.</summary>
    public int MaxInFlight(string path) => State(path).MaxInFlight;

    public int InFlight(string path) => Volatile.Read(ref State(path).InFlight);

    /// <summary>Lets every held request of the path (and any later one) answer.</summary>
    public void Release(string path) => State(path).Released.TrySetResult();

    /// <summary>Waits until the path has received at least <paramref name="count"/> requests.</summary>
    public Task<IReadOnlyList<ReceivedWebhook>> WaitFor(string path, int count, TimeSpan? timeout = null) =>
        Eventually.Until(() => Task.FromResult(Received(path)), r => r.Count >= count, timeout ?? TimeSpan.FromSeconds(30),
            $"{count} request(s) at {Url(path)}");

    private PathState State(string path) => _paths.GetOrAdd(path.TrimStart('/'), _ => new PathState());

    private async Task HandleAsync(HttpContext http)
    {
        var path = http.Request.Path.Value!.TrimStart('/');
        var at = DateTimeOffset.UtcNow;
        using var reader = new StreamReader(http.Request.Body);
        var body = await reader.ReadToEndAsync();
        var headers = http.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString());
        var state = State(path);
        int n;
        lock (state)
        {
            state.Received.Add(new ReceivedWebhook(path, headers, body, at));
            n = state.Received.Count;
        }
        var inFlight = Interlocked.Increment(ref state.InFlight);
        lock (state) state.MaxInFlight = Math.Max(state.MaxInFlight, inFlight);
        try
        {
            var script = state.Script;
            var reply = script.Length == 0 ? Reply.Ok : script[Math.Min(n, script.Length) - 1];
            if (reply.Hold) await Task.WhenAny(state.Released.Task, Task.Delay(Timeout.Infinite, http.RequestAborted));
            if (reply.Delay > TimeSpan.Zero) await Task.Delay(reply.Delay, http.RequestAborted);
            http.Response.StatusCode = reply.Status;
            foreach (var (name, value) in reply.Headers) http.Response.Headers[name] = value;
        }
        catch (OperationCanceledException)
        {
            // The sender gave up (its timeout): nobody is left to answer.
        }
        finally
        {
            Interlocked.Decrement(ref state.InFlight);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var state in _paths.Values) state.Released.TrySetResult();
        await _server.DisposeAsync();
    }

    private sealed class PathState
    {
        public readonly List<ReceivedWebhook> Received = [];
        public Reply[] Script = [];
        public int InFlight;
        public int MaxInFlight;
        public readonly TaskCompletionSource Released = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
