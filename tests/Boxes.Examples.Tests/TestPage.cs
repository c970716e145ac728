using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Boxes.Examples.Tests;

/// <summary>
/// The page the browser example is pointed at, since this machine has no internet: Kestrel on <c>http://127.0.0.1:0</c>
/// (the platform's Chromium runs on the same machine). Counts its requests, to show the remote browser really loaded it.
/// </summary>
public sealed class TestPage : IAsyncDisposable
{
    public const string Title = "Boxes example page";

    private readonly WebApplication _app;
    private int _requests;

    private TestPage(WebApplication app) => _app = app;

    public string Url { get; private set; } = "";
    public int Requests => Volatile.Read(ref _requests);

    public static async Task<TestPage> StartAsync(CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var page = new TestPage(app);
        app.Run(async http =>
        {
            Interlocked.Increment(ref page._requests);
            http.Response.ContentType = "text/html; charset=utf-8";
            await http.Response.WriteAsync($"<!doctype html><html><head><title>{Title}</title></head><body><p>hello</p></body></html>",
                http.RequestAborted);
        });
        await app.StartAsync(cancellationToken);
        page.Url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First() + "/";
        return page;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
    }
}
