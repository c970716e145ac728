namespace Boxes.Api.Lifecycle;

/// <summary>The API's public address (Boxes:PublicUrl) as the URLs handed to clients need it.</summary>
public static class PublicAddress
{
    /// <summary>The address without a trailing slash, for https links.</summary>
    public static string Http(string publicUrl) => publicUrl.TrimEnd('/');

    /// <summary>The same address as ws:// or wss://, for WebSocket URLs (cdpUrl, terminalUrl).</summary>
    public static string WebSocket(string publicUrl)
    {
        var uri = new Uri(publicUrl.TrimEnd('/'));
        var scheme = uri.Scheme == "https" ? "wss" : "ws";
        return $"{scheme}://{uri.Authority}{uri.AbsolutePath.TrimEnd('/')}";
    }
}
