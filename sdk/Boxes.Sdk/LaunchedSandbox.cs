using System.Text.Json;

namespace Boxes.Sdk;

/// <summary>
/// A ready sandbox from <see cref="SandboxCloud.LaunchAsync"/>, with the seed's bound methods (no id to pass).
/// <c>await using</c> kills it however the block is left.
/// </summary>
public sealed class LaunchedSandbox : IAsyncDisposable
{
    private readonly SandboxCloud _cloud;
    private int _killed;

    internal LaunchedSandbox(SandboxCloud cloud, Sandbox sandbox)
    {
        _cloud = cloud;
        Sandbox = sandbox;
        Fs = new LaunchedSandboxFs(cloud.Fs, sandbox.Id);
    }

    /// <summary>The sandbox's id.</summary>
    public string Id => Sandbox.Id;

    /// <summary>The sandbox as it was when it became ready.</summary>
    public Sandbox Sandbox { get; }

    /// <summary>The terminal WebSocket URL (with a token) it had when it became ready.</summary>
    public string? TerminalUrl => Sandbox.TerminalUrl;

    /// <summary>The browser preview's viewer URL, when the platform offers one.</summary>
    public string? BrowserPreviewViewerUrl => _cloud.Transport.ResolveAppUrl(Sandbox.BrowserPreviewViewerUrl);

    /// <summary>Its files.</summary>
    public LaunchedSandboxFs Fs { get; }

    /// <summary>Runs a command (see <see cref="SandboxCloud.ExecAsync"/>).</summary>
    public Task<ExecResult> ExecAsync(string command, IEnumerable<string>? args = null, ExecOptions? options = null, CancellationToken cancellationToken = default) =>
        _cloud.ExecAsync(Id, command, args, options, cancellationToken);

    /// <summary>Runs code with the sandbox's runtime.</summary>
    public Task<ExecResult> RunCodeAsync(string code, int? timeoutMs = null, CancellationToken cancellationToken = default) =>
        _cloud.RunCodeAsync(Id, code, timeoutMs, cancellationToken);

    /// <summary>Stores the workspace as a checkpoint.</summary>
    public Task<CheckpointResult> CheckpointAsync(CancellationToken cancellationToken = default) => _cloud.CheckpointAsync(Id, cancellationToken);

    /// <summary>Pauses it (billing stops, memory is kept).</summary>
    public Task<Sandbox> PauseAsync(CancellationToken cancellationToken = default) => _cloud.PauseAsync(Id, cancellationToken);

    /// <summary>Resumes it.</summary>
    public Task<Sandbox> ResumeAsync(CancellationToken cancellationToken = default) => _cloud.ResumeAsync(Id, cancellationToken);

    /// <summary>Its current state.</summary>
    public Task<Sandbox> GetRuntimeAsync(CancellationToken cancellationToken = default) => _cloud.GetAsync(Id, cancellationToken);

    /// <summary>The terminal's URL and token.</summary>
    public Task<TerminalInfo> TerminalAsync(CancellationToken cancellationToken = default) => _cloud.TerminalAsync(Id, cancellationToken);

    /// <summary>Its artifacts.</summary>
    public Task<SandboxArtifactsResult> GetArtifactsAsync(CancellationToken cancellationToken = default) => _cloud.GetArtifactsAsync(Id, cancellationToken);

    /// <summary>A signed link to one of its artifacts.</summary>
    public Task<ArtifactDownload> GetArtifactDownloadUrlAsync(string key, CancellationToken cancellationToken = default) =>
        _cloud.GetArtifactDownloadUrlAsync(Id, key, cancellationToken);

    /// <summary>Sends an OpenCode prompt and waits for the answer.</summary>
    public Task<JsonElement> PromptAsync(string prompt, PromptOptions? options = null, CancellationToken cancellationToken = default) =>
        _cloud.PromptAsync(Id, prompt, options, cancellationToken);

    /// <summary>Queues an OpenCode prompt (the seed's <c>promptAsync</c>).</summary>
    public Task<JsonElement> QueuePromptAsync(string prompt, PromptOptions? options = null, CancellationToken cancellationToken = default) =>
        _cloud.QueuePromptAsync(Id, prompt, options, cancellationToken);

    /// <summary>The OpenCode session's state.</summary>
    public Task<JsonElement> GetOpencodeStateAsync(OpencodeStateOptions? options = null, CancellationToken cancellationToken = default) =>
        _cloud.GetOpencodeStateAsync(Id, options, cancellationToken);

    /// <summary>The OpenCode message history.</summary>
    public Task<JsonElement> ListOpencodeMessagesAsync(OpencodeMessagesOptions? options = null, CancellationToken cancellationToken = default) =>
        _cloud.ListOpencodeMessagesAsync(Id, options, cancellationToken);

    /// <summary>OpenCode's events as they come.</summary>
    public IAsyncEnumerable<OpencodeEvent> StreamOpencodeEventsAsync(OpencodeEventsOptions? options = null, CancellationToken cancellationToken = default) =>
        _cloud.StreamOpencodeEventsAsync(Id, options, cancellationToken);

    /// <summary>The browser preview's state.</summary>
    public Task<JsonElement> GetPreviewAsync(CancellationToken cancellationToken = default) => _cloud.GetPreviewAsync(Id, cancellationToken);

    /// <summary>A standalone viewer URL for its browser.</summary>
    public Task<string?> GetPreviewViewerUrlAsync(CancellationToken cancellationToken = default) => _cloud.GetPreviewViewerUrlAsync(Id, cancellationToken);

    /// <summary>The preview's transport URLs.</summary>
    public Task<PreviewConnection?> GetPreviewConnectionAsync(CancellationToken cancellationToken = default) => _cloud.GetPreviewConnectionAsync(Id, cancellationToken);

    /// <summary>Warms the preview backend.</summary>
    public Task<JsonElement> StartPreviewAsync(CancellationToken cancellationToken = default) => _cloud.StartPreviewAsync(Id, cancellationToken);

    /// <summary>Navigates the preview's browser.</summary>
    public Task<JsonElement> NavigatePreviewAsync(string url, CancellationToken cancellationToken = default) => _cloud.NavigatePreviewAsync(Id, url, cancellationToken);

    /// <summary>Resizes the preview's viewport.</summary>
    public Task<JsonElement> ResizePreviewAsync(PreviewSize size, CancellationToken cancellationToken = default) => _cloud.ResizePreviewAsync(Id, size, cancellationToken);

    /// <summary>The human handoff's state.</summary>
    public Task<JsonElement> GetHandoffAsync(CancellationToken cancellationToken = default) => _cloud.GetHandoffAsync(Id, cancellationToken);

    /// <summary>Sets who operates the browser.</summary>
    public Task<JsonElement> SetControlAsync(string mode, ControlOptions? options = null, CancellationToken cancellationToken = default) =>
        _cloud.SetControlAsync(Id, mode, options, cancellationToken);

    /// <summary>Hands the browser to a human.</summary>
    public Task<JsonElement> TakeControlAsync(ControlOptions? options = null, CancellationToken cancellationToken = default) =>
        _cloud.TakeControlAsync(Id, options, cancellationToken);

    /// <summary>Hands the browser back to the AI.</summary>
    public Task<JsonElement> ReturnControlAsync(ControlOptions? options = null, CancellationToken cancellationToken = default) =>
        _cloud.ReturnControlAsync(Id, options, cancellationToken);

    /// <summary>Asks for a human operator.</summary>
    public Task<JsonElement> RequestHumanHandoffAsync(HumanHandoffRequest request, CancellationToken cancellationToken = default) =>
        _cloud.RequestHumanHandoffAsync(Id, request, cancellationToken);

    /// <summary>A human accepts the handoff.</summary>
    public Task<JsonElement> AcceptHumanHandoffAsync(HumanHandoffAcceptOptions? options = null, CancellationToken cancellationToken = default) =>
        _cloud.AcceptHumanHandoffAsync(Id, options, cancellationToken);

    /// <summary>The human is done.</summary>
    public Task<JsonElement> CompleteHumanHandoffAsync(HumanHandoffCompleteOptions? options = null, CancellationToken cancellationToken = default) =>
        _cloud.CompleteHumanHandoffAsync(Id, options, cancellationToken);

    /// <summary>Ends the sandbox. Killing twice, or a sandbox that already ended, is not an error.</summary>
    public async Task KillAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await _cloud.KillAsync(Id, cancellationToken).ConfigureAwait(false);
        }
        catch (BoxesError e) when (e.Status is 404 or 409 or 410)
        {
            // Already gone: nothing left to kill.
        }
        Volatile.Write(ref _killed, 1);
    }

    /// <summary>Kills the sandbox unless <see cref="KillAsync"/> already did; never throws for an already-ended sandbox.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _killed) == 1) return;
        await KillAsync().ConfigureAwait(false);
    }
}
