namespace Boxes.Sdk;

/// <summary>
/// A ready browser session from <see cref="BrowserCloud.LaunchAsync"/>. Use <see cref="CdpUrl"/> with Puppeteer,
/// Playwright or any CDP client; <c>await using</c> closes the session however the block is left.
/// </summary>
public sealed class LaunchedBrowser : IAsyncDisposable
{
    private readonly BrowserCloud _cloud;
    private int _closed;

    internal LaunchedBrowser(BrowserCloud cloud, BrowserSession session)
    {
        _cloud = cloud;
        Session = session;
        CdpUrl = session.CdpUrl ?? throw new BoxesError(0, "NO_CDP_URL",
            $"Browser session {session.Id} is ready but has no cdpUrl: the API key lacks the browsers:write permission.");
        PreviewViewerUrl = cloud.Transport.ResolveAppUrl(session.PreviewViewerUrl);
    }

    /// <summary>The CDP WebSocket URL (a session-scoped token, never the API key).</summary>
    public string CdpUrl { get; }

    /// <summary>The session's id.</summary>
    public string SessionId => Session.Id;

    /// <summary>The session as it was when it became ready.</summary>
    public BrowserSession Session { get; }

    /// <summary>The standalone viewer URL, when the platform offers one.</summary>
    public string? PreviewViewerUrl { get; }

    /// <summary>Reads the session again for its current viewer URL.</summary>
    public async Task<string?> GetPreviewViewerUrlAsync(CancellationToken cancellationToken = default)
    {
        var session = await _cloud.GetBrowserAsync(SessionId, cancellationToken).ConfigureAwait(false);
        return _cloud.Transport.ResolveAppUrl(session.PreviewViewerUrl);
    }

    /// <summary>Ends the session. Closing twice, or a session that already ended, is not an error.</summary>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await _cloud.CloseBrowserAsync(SessionId, cancellationToken).ConfigureAwait(false);
        }
        catch (BoxesError e) when (e.Status is 404 or 409 or 410)
        {
            // Already gone (or another organisation's key now): nothing left to close.
        }
        Volatile.Write(ref _closed, 1);
    }

    /// <summary>Closes the session unless <see cref="CloseAsync"/> already did; never throws for an already-ended session.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _closed) == 1) return;
        await CloseAsync().ConfigureAwait(false);
    }
}
