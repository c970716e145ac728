using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Net.WebSockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;

namespace Boxes.Api.Tests;

/// <summary>
/// What only a real server shows: fs/write's own 64 MiB body limit above the server-wide 8 MiB one (TestServer
/// enforces neither), and a terminalUrl that a plain WebSocket client opens exactly as the API returned it.
/// </summary>
public sealed class SandboxOverKestrelTests(KestrelApiHost host) : IClassFixture<KestrelApiHost>, IAsyncLifetime
{
    private FakeWorker _worker = null!;

    public async Task InitializeAsync() => _worker = await FakeWorker.StartAsync(host);

    public async Task DisposeAsync()
    {
        Assert.Equal(0, _worker.RequestsWithoutKey);
        await _worker.DisposeAsync();
    }

    private static async Task<JsonObject> Json(HttpResponseMessage res) => JsonNode.Parse(await res.Content.ReadAsStringAsync())!.AsObject();

    private async Task<(HttpClient Http, Guid Id)> ReadySandbox()
    {
        var (_, key) = await host.CreateOrganization();
        var http = new HttpClient { BaseAddress = new Uri(host.PublicUrl), Timeout = TimeSpan.FromMinutes(2) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var id = Guid.Parse((await Json(await http.PostAsJsonAsync("/v1/sandboxes", new { })))["id"]!.GetValue<string>());
        await host.MakeReady(id, _worker.EndpointFor(id));
        return (http, id);
    }

    private static HttpRequestMessage StreamedWrite(Guid id, string path, byte[] bytes)
    {
        // Chunked, without a declared length: only the server's limit while streaming can stop it.
        var request = new HttpRequestMessage(HttpMethod.Put, $"/v1/sandboxes/{id}/fs/write?path={Uri.EscapeDataString(path)}")
        {
            Content = new StreamContent(new MemoryStream(bytes)),
        };
        request.Headers.TransferEncodingChunked = true;
        return request;
    }

    [Fact]
    public async Task A_file_larger_than_the_servers_general_body_limit_is_written_and_read_back()
    {
        var (http, id) = await ReadySandbox();
        var bytes = RandomNumberGenerator.GetBytes(20 * 1024 * 1024);
        var write = await http.SendAsync(StreamedWrite(id, "/workspace/big.bin", bytes));
        Assert.Equal(HttpStatusCode.OK, write.StatusCode);
        var read = await http.GetAsync($"/v1/sandboxes/{id}/fs/read?path=/workspace/big.bin");
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Equal(bytes, await read.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task A_streamed_file_over_64_MiB_is_refused_with_413()
    {
        var (http, id) = await ReadySandbox();
        var res = await http.SendAsync(StreamedWrite(id, "/workspace/too-big.bin", new byte[64 * 1024 * 1024 + 4096]));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, res.StatusCode);
        Assert.Equal("VALIDATION_FAILED", (await Json(res))["error"]!["code"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.NotFound, (await http.GetAsync($"/v1/sandboxes/{id}/fs/read?path=/workspace/too-big.bin")).StatusCode);
    }

    [Fact]
    public async Task A_plain_websocket_client_opens_the_terminal_url_as_it_is()
    {
        var (http, id) = await ReadySandbox();
        var terminalUrl = (await Json(await http.GetAsync($"/v1/sandboxes/{id}/terminal")))["terminalUrl"]!.GetValue<string>();
        Assert.StartsWith(host.PublicUrl.Replace("http://", "ws://"), terminalUrl);
        using var ws = new ClientWebSocket();
        await ws.ConnectAsync(new Uri(terminalUrl), CancellationToken.None);
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var hello = await ws.ReceiveAsync(buffer, timeout.Token);
        Assert.Equal(WebSocketMessageType.Text, hello.MessageType);
        await ws.SendAsync("pwd\r"u8.ToArray(), WebSocketMessageType.Binary, true, timeout.Token);
        var echo = await ws.ReceiveAsync(buffer, timeout.Token);
        Assert.Equal("pwd\r", Encoding.UTF8.GetString(buffer, 0, echo.Count));
        await ws.CloseAsync(WebSocketCloseStatus.NormalClosure, null, timeout.Token);
    }
}
