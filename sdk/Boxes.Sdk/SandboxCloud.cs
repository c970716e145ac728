using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using Boxes.Sdk.Internal;

namespace Boxes.Sdk;

/// <summary>
/// Code sandboxes: commands, code, files, a terminal, pause/resume, checkpoints (the seed's <c>BanataSandbox</c>).
/// One instance holds one HTTP connection pool: make one and reuse it; dispose it when done.
/// </summary>
public sealed class SandboxCloud : IDisposable
{
    private const string Sandboxes = "v1/sandboxes";

    /// <summary>How much longer than the command's own timeout an exec may take to answer (start wait, transfer).</summary>
    private static readonly TimeSpan ExecSlack = TimeSpan.FromSeconds(45);

    /// <summary>The API's exec timeout when none is given.</summary>
    private const int DefaultExecTimeoutMs = 60_000;

    /// <summary>Connects with <paramref name="options"/> (or the environment's <c>BOXES_API_KEY</c> / <c>BOXES_API_URL</c>).</summary>
    /// <exception cref="ArgumentException">No API key, or a malformed URL or retry setting.</exception>
    public SandboxCloud(BoxesClientOptions? options = null)
    {
        Transport = new BoxesTransport(options);
        Fs = new SandboxFs(this);
    }

    internal BoxesTransport Transport { get; }

    /// <summary>File operations.</summary>
    public SandboxFs Fs { get; }

    /// <summary>Disposes the HTTP client and the handler it owns (never a caller's <see cref="BoxesClientOptions.HttpHandler"/>).</summary>
    public void Dispose() => Transport.Dispose();

    /// <summary>
    /// Creates a sandbox, waits until it is ready (<see cref="SandboxConfig.Timeout"/>) and returns it with bound methods.
    /// The sandbox is killed before any exception leaves: a failure, the timeout (<c>TIMEOUT</c>) or the caller's cancellation.
    /// </summary>
    public async Task<LaunchedSandbox> LaunchAsync(SandboxConfig? config = null, CancellationToken cancellationToken = default)
    {
        config ??= new SandboxConfig();
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(config.Timeout, "config.Timeout");
        var created = await CreateCoreAsync(config, finishInFlightOnCancel: true, cancellationToken).ConfigureAwait(false);
        try
        {
            cancellationToken.ThrowIfCancellationRequested();
            var ready = await WaitForReadyAsync(created.Id, config.Timeout, cancellationToken).ConfigureAwait(false);
            return new LaunchedSandbox(this, ready);
        }
        catch
        {
            await KillQuietlyAsync(created.Id).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Creates a sandbox and returns at once (status <c>queued</c>); exec works right away (the API waits for the start).</summary>
    public Task<Sandbox> CreateAsync(SandboxConfig? config = null, CancellationToken cancellationToken = default) =>
        CreateCoreAsync(config ?? new SandboxConfig(), finishInFlightOnCancel: false, cancellationToken);

    /// <summary>Reads a sandbox.</summary>
    public Task<Sandbox> GetAsync(string id, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, Path(id), RetryRule.Idempotent), BoxesJsonContext.Default.Sandbox, cancellationToken);

    /// <summary>A page of sandboxes, newest first, optionally of one status.</summary>
    public Task<SandboxList> ListAsync(string? status = null, string? cursor = null, int? limit = null, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, Sandboxes + Query.Of(("status", status), ("cursor", cursor), ("limit", Query.Number(limit))), RetryRule.Idempotent),
            BoxesJsonContext.Default.SandboxList, cancellationToken);

    /// <summary>Ends a sandbox (idempotent: killing an ended sandbox is not an error).</summary>
    public Task KillAsync(string id, CancellationToken cancellationToken = default) =>
        Transport.SendIgnoringBodyAsync(new ApiCall(HttpMethod.Delete, Path(id), RetryRule.Idempotent), cancellationToken);

    /// <summary>Polls the sandbox until it is ready and returns it; <c>TIMEOUT</c> after <paramref name="timeoutMs"/> (the sandbox is left running).</summary>
    public Task<Sandbox> WaitForReadyAsync(string id, int timeoutMs = 30_000, CancellationToken cancellationToken = default)
    {
        BoxesTransport.Segment(id, nameof(id));
        return ReadyWaiter.WaitAsync(ct => GetAsync(id, ct), s => s.Status, s => s.EndReason, "Sandbox", id, timeoutMs, cancellationToken);
    }

    /// <summary>
    /// Runs a command. Without <paramref name="args"/> it runs through <c>/bin/sh -c</c>; with them it is executed
    /// directly. Not retried after a 5xx or a timeout (it may have run): only after a 429 or a refused connection.
    /// </summary>
    public Task<ExecResult> ExecAsync(string id, string command, IEnumerable<string>? args = null, ExecOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        if (options?.TimeoutMs is <= 0) throw new ArgumentOutOfRangeException(nameof(options), options.TimeoutMs, "options.TimeoutMs: must be positive.");
        var request = new ExecRequest
        {
            Command = command,
            Args = args?.ToArray(),
            Cwd = options?.Cwd,
            Env = options?.Env,
            Stdin = options?.Stdin,
            TimeoutMs = options?.TimeoutMs,
        };
        return Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, Path(id) + "/exec", RetryRule.OnlyIfNotActed)
        {
            Content = BoxesTransport.Json(request, BoxesJsonContext.Default.ExecRequest),
            Timeout = ExecTimeout(options?.TimeoutMs),
        }, BoxesJsonContext.Default.ExecResult, cancellationToken);
    }

    /// <summary>Runs code with the sandbox's runtime (<c>python3</c>, <c>bun</c> or <c>sh</c>). Retried like <see cref="ExecAsync"/>.</summary>
    public Task<ExecResult> RunCodeAsync(string id, string code, int? timeoutMs = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (timeoutMs is <= 0) throw new ArgumentOutOfRangeException(nameof(timeoutMs), timeoutMs, "timeoutMs: must be positive.");
        return Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, Path(id) + "/run-code", RetryRule.OnlyIfNotActed)
        {
            Content = BoxesTransport.Json(new RunCodeRequest { Code = code, TimeoutMs = timeoutMs }, BoxesJsonContext.Default.RunCodeRequest),
            Timeout = ExecTimeout(timeoutMs),
        }, BoxesJsonContext.Default.ExecResult, cancellationToken);
    }

    /// <summary>Freezes every process and stops billing; memory is kept.</summary>
    public Task<Sandbox> PauseAsync(string id, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, Path(id) + "/pause", RetryRule.OnlyIfNotActed), BoxesJsonContext.Default.Sandbox, cancellationToken);

    /// <summary>Thaws a paused sandbox.</summary>
    public Task<Sandbox> ResumeAsync(string id, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, Path(id) + "/resume", RetryRule.OnlyIfNotActed), BoxesJsonContext.Default.Sandbox, cancellationToken);

    /// <summary>The interactive shell's WebSocket URL and token.</summary>
    public Task<TerminalInfo> TerminalAsync(string id, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, Path(id) + "/terminal", RetryRule.Idempotent), BoxesJsonContext.Default.TerminalInfo, cancellationToken);

    /// <summary>Stores the workspace as a <c>tar.gz</c> artifact; its key starts new sandboxes (<see cref="SandboxConfig.FromCheckpoint"/>).</summary>
    public Task<CheckpointResult> CheckpointAsync(string id, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, Path(id) + "/checkpoint", RetryRule.OnlyIfNotActed)
        {
            Timeout = TimeSpan.FromMinutes(5), // a large workspace takes a while to pack and store
        }, BoxesJsonContext.Default.CheckpointResult, cancellationToken);

    /// <summary>The sandbox's artifacts (also after it ended).</summary>
    public Task<SandboxArtifactsResult> GetArtifactsAsync(string id, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, Path(id) + "/artifacts", RetryRule.Idempotent),
            BoxesJsonContext.Default.SandboxArtifactsResult, cancellationToken);

    /// <summary>A signed link to an artifact that needs no API key (valid for minutes).</summary>
    public Task<ArtifactDownload> GetArtifactDownloadUrlAsync(string id, string key, CancellationToken cancellationToken = default) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, $"{Path(id)}/artifacts/{BoxesTransport.Segment(key, nameof(key))}/download-url", RetryRule.Idempotent),
            BoxesJsonContext.Default.ArtifactDownload, cancellationToken);

    // --- OpenCode, preview, handoff, control (the API answers 501 NOT_IMPLEMENTED where it has not built them) ---

    /// <summary>Sends a prompt to the sandbox's OpenCode agent and waits for its answer.</summary>
    public Task<JsonElement> PromptAsync(string id, string prompt, PromptOptions? options = null, CancellationToken cancellationToken = default) =>
        PostPromptAsync(id, "/prompt", prompt, options, cancellationToken);

    /// <summary>Queues a prompt without waiting for the answer (the seed's <c>promptAsync</c>); pair with <see cref="StreamOpencodeEventsAsync"/>.</summary>
    public Task<JsonElement> QueuePromptAsync(string id, string prompt, PromptOptions? options = null, CancellationToken cancellationToken = default) =>
        PostPromptAsync(id, "/prompt/async", prompt, options, cancellationToken);

    /// <summary>The OpenCode session's state.</summary>
    public Task<JsonElement> GetOpencodeStateAsync(string id, OpencodeStateOptions? options = null, CancellationToken cancellationToken = default) =>
        GetElementAsync(Path(id) + "/opencode/state" + Query.Of(("ensureSession", Query.Flag(options?.EnsureSession)), ("agent", options?.Agent)), cancellationToken);

    /// <summary>The OpenCode message history.</summary>
    public Task<JsonElement> ListOpencodeMessagesAsync(string id, OpencodeMessagesOptions? options = null, CancellationToken cancellationToken = default) =>
        GetElementAsync(Path(id) + "/opencode/messages" + Query.Of(("sessionId", options?.SessionId), ("limit", Query.Number(options?.Limit))), cancellationToken);

    /// <summary>OpenCode's server-sent events as they come; stop by breaking out of the loop or cancelling.</summary>
    public async IAsyncEnumerable<OpencodeEvent> StreamOpencodeEventsAsync(string id, OpencodeEventsOptions? options = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        using var response = await Transport.SendAsync(new ApiCall(HttpMethod.Get,
            Path(id) + "/opencode/events" + Query.Of(("sessionId", options?.SessionId)), RetryRule.Idempotent) { Streaming = true }, cancellationToken).ConfigureAwait(false);
        await using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await foreach (var item in ServerSentEvents.ReadAsync(stream, cancellationToken).ConfigureAwait(false))
            yield return item;
    }

    /// <summary>The browser preview's state.</summary>
    public Task<JsonElement> GetPreviewAsync(string id, CancellationToken cancellationToken = default) =>
        GetElementAsync(Path(id) + "/preview", cancellationToken);

    /// <summary>A standalone public viewer URL for the sandbox's browser, or null when there is none.</summary>
    public async Task<string?> GetPreviewViewerUrlAsync(string id, CancellationToken cancellationToken = default)
    {
        var answer = await Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, Path(id) + "/preview/viewer-url", RetryRule.Idempotent),
            BoxesJsonContext.Default.ViewerUrlResult, cancellationToken).ConfigureAwait(false);
        return Transport.ResolveAppUrl(answer.ViewerUrl ?? answer.Url);
    }

    /// <summary>The preview's WebSocket and control URLs, for embedding a viewer of one's own.</summary>
    public async Task<PreviewConnection?> GetPreviewConnectionAsync(string id, CancellationToken cancellationToken = default) =>
        await Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, Path(id) + "/preview/connection", RetryRule.Idempotent),
            BoxesJsonContext.Default.PreviewConnection, cancellationToken).ConfigureAwait(false);

    /// <summary>Warms and attaches the preview backend.</summary>
    public Task<JsonElement> StartPreviewAsync(string id, CancellationToken cancellationToken = default) =>
        PostElementAsync(Path(id) + "/preview/start", null, cancellationToken);

    /// <summary>Navigates the preview's browser.</summary>
    public Task<JsonElement> NavigatePreviewAsync(string id, string url, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(url);
        return PostElementAsync(Path(id) + "/preview/navigate", BoxesTransport.Json(new NavigateRequest { Url = url }, BoxesJsonContext.Default.NavigateRequest), cancellationToken);
    }

    /// <summary>Resizes the preview's viewport.</summary>
    public Task<JsonElement> ResizePreviewAsync(string id, PreviewSize size, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(size);
        return PostElementAsync(Path(id) + "/preview/resize", BoxesTransport.Json(size, BoxesJsonContext.Default.PreviewSize), cancellationToken);
    }

    /// <summary>The human handoff's state.</summary>
    public Task<JsonElement> GetHandoffAsync(string id, CancellationToken cancellationToken = default) =>
        GetElementAsync(Path(id) + "/handoff", cancellationToken);

    /// <summary>Sets who operates the browser: <c>ai</c>, <c>human</c> or <c>shared</c>.</summary>
    public Task<JsonElement> SetControlAsync(string id, string mode, ControlOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(mode);
        var body = new ControlRequest { Mode = mode, Controller = options?.Controller, LeaseMs = options?.LeaseMs };
        return PostElementAsync(Path(id) + "/control", BoxesTransport.Json(body, BoxesJsonContext.Default.ControlRequest), cancellationToken);
    }

    /// <summary>Hands the browser to a human (<c>SetControlAsync(id, "human")</c>).</summary>
    public Task<JsonElement> TakeControlAsync(string id, ControlOptions? options = null, CancellationToken cancellationToken = default) =>
        SetControlAsync(id, "human", options, cancellationToken);

    /// <summary>Hands the browser back to the AI (<c>SetControlAsync(id, "ai")</c>).</summary>
    public Task<JsonElement> ReturnControlAsync(string id, ControlOptions? options = null, CancellationToken cancellationToken = default) =>
        SetControlAsync(id, "ai", options, cancellationToken);

    /// <summary>Asks for a human operator (MFA, CAPTCHA, approval...).</summary>
    public Task<JsonElement> RequestHumanHandoffAsync(string id, HumanHandoffRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        return PostElementAsync(Path(id) + "/handoff/request", BoxesTransport.Json(request, BoxesJsonContext.Default.HumanHandoffRequest), cancellationToken);
    }

    /// <summary>A human accepts the handoff and takes control.</summary>
    public Task<JsonElement> AcceptHumanHandoffAsync(string id, HumanHandoffAcceptOptions? options = null, CancellationToken cancellationToken = default) =>
        PostElementAsync(Path(id) + "/handoff/accept",
            BoxesTransport.Json(options ?? new HumanHandoffAcceptOptions(), BoxesJsonContext.Default.HumanHandoffAcceptOptions), cancellationToken);

    /// <summary>The human is done; control returns (to the AI by default).</summary>
    public Task<JsonElement> CompleteHumanHandoffAsync(string id, HumanHandoffCompleteOptions? options = null, CancellationToken cancellationToken = default) =>
        PostElementAsync(Path(id) + "/handoff/complete",
            BoxesTransport.Json(options ?? new HumanHandoffCompleteOptions(), BoxesJsonContext.Default.HumanHandoffCompleteOptions), cancellationToken);

    internal static string Path(string id) => Sandboxes + "/" + BoxesTransport.Segment(id, nameof(id));

    /// <summary>Kills a sandbox on the way out of a failed launch; its own failure must not hide the launch's.</summary>
    internal async Task KillQuietlyAsync(string id)
    {
        try
        {
            // Not the caller's token: it may be the very cancellation we are cleaning up after.
            using var bound = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await KillAsync(id, bound.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is BoxesError or OperationCanceledException)
        {
            // The sandbox's max duration ends it anyway; the launch's own exception is the one to surface.
        }
    }

    private Task<Sandbox> CreateCoreAsync(SandboxConfig config, bool finishInFlightOnCancel, CancellationToken cancellationToken) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, Sandboxes, RetryRule.Create)
        {
            Content = BoxesTransport.Json(config, BoxesJsonContext.Default.SandboxConfig),
            FinishInFlightOnCancel = finishInFlightOnCancel,
        }, BoxesJsonContext.Default.Sandbox, cancellationToken);

    private static TimeSpan ExecTimeout(int? commandTimeoutMs) =>
        TimeSpan.FromMilliseconds(commandTimeoutMs ?? DefaultExecTimeoutMs) + ExecSlack;

    private Task<JsonElement> PostPromptAsync(string id, string route, string prompt, PromptOptions? options, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(prompt);
        var body = new PromptRequest { Prompt = prompt, Agent = options?.Agent, NoReply = options?.NoReply };
        return PostElementAsync(Path(id) + route, BoxesTransport.Json(body, BoxesJsonContext.Default.PromptRequest), cancellationToken);
    }

    private Task<JsonElement> GetElementAsync(string path, CancellationToken cancellationToken) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Get, path, RetryRule.Idempotent), BoxesJsonContext.Default.JsonElement, cancellationToken);

    private Task<JsonElement> PostElementAsync(string path, Func<HttpContent>? content, CancellationToken cancellationToken) =>
        Transport.SendJsonAsync(new ApiCall(HttpMethod.Post, path, RetryRule.OnlyIfNotActed)
        {
            Content = content ?? BoxesTransport.Json(new EmptyBody(), BoxesJsonContext.Default.EmptyBody),
        }, BoxesJsonContext.Default.JsonElement, cancellationToken);
}
