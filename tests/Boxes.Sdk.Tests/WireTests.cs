using Microsoft.AspNetCore.Http;
using System.Text;
using Boxes.Sdk.Internal;

namespace Boxes.Sdk.Tests;

/// <summary>What goes on the wire for files, the usage feed, events and unbuilt routes.</summary>
public sealed class WireTests
{
    [Fact]
    public async Task Fs_write_sends_the_raw_bytes_and_read_returns_them()
    {
        byte[]? stored = null;
        await using var api = await ScriptedApi.StartAsync(async (http, _) =>
        {
            if (http.Request.Method == "PUT")
            {
                await ScriptedApi.Reply(http, 200, """{"ok":true}""");
                return;
            }
            if (http.Request.Path.Value!.EndsWith("/fs/list")) { await ScriptedApi.Reply(http, 200, """{"entries":[{"name":"a b.bin","type":"file","size":4,"mtime":"2025-01-01T00:00:00Z"}]}"""); return; }
            http.Response.ContentType = "application/octet-stream";
            await http.Response.Body.WriteAsync(stored);
        });
        using var cloud = new SandboxCloud(RetryTests.Options(api.Url));
        var bytes = new byte[] { 0, 255, 10, 13 };

        // The request records its body; the scripted answer to the read is those same bytes.
        await cloud.Fs.WriteBytesAsync("s1", "/workspace/a b.bin", bytes);
        stored = api.Requests[0].Body;
        var read = await cloud.Fs.ReadBytesAsync("s1", "/workspace/a b.bin");
        var entries = await cloud.Fs.ListAsync("s1");

        var write = api.Requests[0];
        Assert.Equal("/v1/sandboxes/s1/fs/write?path=%2Fworkspace%2Fa%20b.bin", write.PathAndQuery);
        Assert.Equal("application/octet-stream", write.ContentType);
        Assert.Equal(bytes, write.Body);
        Assert.Equal(bytes, read);
        Assert.Equal("/v1/sandboxes/s1/fs/read?path=%2Fworkspace%2Fa%20b.bin", api.Requests[1].PathAndQuery);
        Assert.Equal("/v1/sandboxes/s1/fs/list?path=%2Fworkspace", api.Requests[2].PathAndQuery);
        var entry = Assert.Single(entries);
        Assert.Equal(("a b.bin", "file", 4L), (entry.Name, entry.Type, entry.Size));
    }

    [Fact]
    public async Task The_usage_feed_keeps_the_body_and_cursor_and_parses_NDJSON_records()
    {
        const string body = """
            {"id":"r1","organizationId":"o1","boxId":"b1","kind":"browser","weight":"light","size":null,"start":"2025-01-01T00:00:00.000Z","end":"2025-01-01T00:01:00.000Z","vcpus":1,"vcpuSeconds":60}
            {"id":"r2","organizationId":"o1","boxId":"b2","kind":"sandbox","weight":null,"size":"standard","start":"2025-01-01T00:00:00.000Z","end":"2025-01-01T00:00:30.500Z","vcpus":2,"vcpuSeconds":61}

            """;
        await using var api = await ScriptedApi.StartAsync((http, _) =>
        {
            http.Response.Headers["X-Next-Cursor"] = "cursor-2";
            http.Response.ContentType = "application/x-ndjson";
            return http.Response.WriteAsync(body.Replace("\r\n", "\n"));
        });
        using var cloud = new BrowserCloud(RetryTests.Options(api.Url));

        var page = await cloud.ExportUsageAsync(after: "cursor-1", limit: 2);

        Assert.Equal("/v1/usage/export?after=cursor-1&format=ndjson&limit=2", api.Requests[0].PathAndQuery);
        Assert.Equal("cursor-2", page.NextCursor);
        Assert.Equal("application/x-ndjson", page.ContentType);
        Assert.Equal(2, page.Records.Count);
        Assert.Equal(("r2", "sandbox", "standard", 61m), (page.Records[1].Id, page.Records[1].Kind, page.Records[1].Size, page.Records[1].VcpuSeconds));
        Assert.StartsWith("{\"id\":\"r1\"", page.Body);
        await Assert.ThrowsAsync<ArgumentException>(() => cloud.ExportUsageAsync(format: "xml"));
    }

    [Fact]
    public async Task Server_sent_events_are_read_with_their_type_and_JSON_data()
    {
        var stream = new MemoryStream(Encoding.UTF8.GetBytes(
            ": keep-alive\n\nevent: message.updated\ndata: {\"a\":1}\n\ndata: {\"type\":\"session.idle\"}\n\ndata: plain\ndata: text\n\n"));

        var events = new List<OpencodeEvent>();
        await foreach (var e in ServerSentEvents.ReadAsync(stream, CancellationToken.None)) events.Add(e);

        Assert.Equal(["message.updated", "session.idle", "message"], events.Select(e => e.Type));
        Assert.Equal(1, events[0].Data!.Value.GetProperty("a").GetInt32());
        Assert.Equal("plain\ntext", events[2].Data!.Value.GetString());
    }

    [Fact]
    public async Task A_501_from_an_unbuilt_route_surfaces_as_a_BoxesError()
    {
        await using var api = await ScriptedApi.StartAsync((http, _) =>
            ScriptedApi.Reply(http, 501, ScriptedApi.Error("NOT_IMPLEMENTED", "OpenCode prompts (prompt) are not built yet.")));
        using var cloud = new SandboxCloud(RetryTests.Options(api.Url));

        var error = await Assert.ThrowsAsync<BoxesError>(() => cloud.QueuePromptAsync("s1", "hello", new PromptOptions { Agent = "build" }));

        Assert.Equal((501, "NOT_IMPLEMENTED"), (error.Status, error.Code));
        Assert.Equal("/v1/sandboxes/s1/prompt/async", api.Requests[0].PathAndQuery);
        Assert.Equal("""{"prompt":"hello","agent":"build"}""", Encoding.UTF8.GetString(api.Requests[0].Body));
        // A POST that may have acted is not repeated on a 5xx.
        Assert.Single(api.Requests);
    }

    [Fact]
    public void Sandbox_config_leaves_unset_fields_and_the_timeout_out()
    {
        var json = System.Text.Json.JsonSerializer.Serialize(
            new SandboxConfig { Runtime = "python", Env = new Dictionary<string, string> { ["A"] = "1" }, Timeout = 5, Capabilities = new SandboxCapabilities { Network = "internet" } },
            BoxesJsonContext.Default.SandboxConfig);

        Assert.Equal("""{"runtime":"python","size":"standard","env":{"A":"1"},"capabilities":{"network":"internet"}}""", json);
    }

    [Fact]
    public async Task A_missing_id_is_an_ArgumentException_before_any_request()
    {
        using var cloud = new SandboxCloud(new BoxesClientOptions { ApiKey = "k", BaseUrl = $"http://127.0.0.1:{ScriptedApi.UnusedPort()}" });
        await Assert.ThrowsAsync<ArgumentException>(() => cloud.GetAsync(""));
        await Assert.ThrowsAsync<ArgumentException>(() => cloud.ExecAsync("s1", ""));
    }
}
