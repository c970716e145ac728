using Boxes.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Boxes.Examples.Tests;

/// <summary>
/// The page the browser example is pointed at, since this machine has no internet: Kestrel on <c>http://127.0.0.1:0</c>
/// (the platform's Chromium runs on the same machine). Counts its requests, to show the remote browser really loaded it.
/// </summary>
public sealed class TestPage : IAsyncDisposable
{
    public const string Title = "Boxes example page";

    private LoopbackServer _server = null!;
    private int _requests;

    private TestPage() { }

    public string Url => _server.Address + "/";
    public int Requests => Volatile.Read(ref _requests);

    public static async Task<TestPage> StartAsync(CancellationToken cancellationToken)
    {
        var page = new TestPage();
        page._server = await LoopbackServer.StartAsync(page.Map, cancellationToken: cancellationToken);
        return page;
    }

    private void Map(WebApplication app)
    {
        app.Run(async http =>
        {
            Interlocked.Increment(ref _requests);
            http.Response.ContentType = "text/html; charset=utf-8";
            await http.Response.WriteAsync($"<!doctype html><html><head><title>{Title}</title></head><body><p>hello</p></body></html>",
                http.RequestAborted);
        });
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();
}
