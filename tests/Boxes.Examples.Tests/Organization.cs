using System.Net.Http.Headers;
using System.Text.Json.Nodes;
using Boxes.Testing;
using Xunit;

namespace Boxes.Examples.Tests;

/// <summary>One box as the organisation's list shows it.</summary>
public sealed record ListedBox(string Kind, string Id, string Status, string? Weight)
{
    public bool HasEnded => Status is "ended" or "failed";
    public bool IsEndingOrEnded => HasEnded || Status == "ending";
    public override string ToString() => $"{Kind} {Id} {Status}";
}

/// <summary>
/// A fresh organisation made for one test through the operator's route, so a test sees only its own boxes and never
/// leans on the shared development key. Disposing it ends whatever box is still running, so an example that leaks
/// one fails its test without leaving a box running on the shared platform until its maximum duration.
/// </summary>
public sealed class Organization : IAsyncDisposable
{
    private readonly HttpClient _http;

    private Organization(Uri apiUrl, string apiKey)
    {
        ApiUrl = apiUrl;
        ApiKey = apiKey;
        _http = Client(apiUrl, apiKey);
    }

    public Uri ApiUrl { get; }
    public string ApiKey { get; }

    /// <summary>The environment an example gets: this organisation's key and the platform's address.</summary>
    public IReadOnlyDictionary<string, string?> ExampleEnvironment => new Dictionary<string, string?>
    {
        ["BOXES_API_URL"] = ApiUrl.ToString().TrimEnd('/'),
        ["BOXES_API_KEY"] = ApiKey,
    };

    public static async Task<Organization> CreateAsync(string plan, CancellationToken cancellationToken)
    {
        var created = await PlatformAdmin.CreateOrganizationAsync(plan, "examples", cancellationToken);
        return new Organization(PlatformAdmin.ApiUrl, created.ApiKey);
    }

    /// <summary>Every browser session and sandbox of the organisation, following the lists' cursors.</summary>
    public async Task<IReadOnlyList<ListedBox>> ListBoxesAsync(CancellationToken cancellationToken)
    {
        var boxes = new List<ListedBox>();
        foreach (var kind in new[] { "browsers", "sandboxes" })
        {
            string? cursor = null;
            do
            {
                var query = cursor is null ? "" : $"?cursor={Uri.EscapeDataString(cursor)}";
                using var response = await _http.GetAsync($"/v1/{kind}{query}", cancellationToken);
                var text = await response.Content.ReadAsStringAsync(cancellationToken);
                if (!response.IsSuccessStatusCode)
                    throw new InvalidOperationException($"GET /v1/{kind} answered {(int)response.StatusCode}: {text}");
                var page = JsonNode.Parse(text)!.AsObject();
                foreach (var item in page["items"]!.AsArray())
                    boxes.Add(new ListedBox(kind, item!["id"]!.GetValue<string>(), item["status"]!.GetValue<string>(),
                        item["weight"]?.GetValue<string>()));
                cursor = page["nextCursor"]?.GetValue<string>();
            } while (cursor is not null);
        }
        return boxes;
    }

    /// <summary>
    /// Checks what an example must leave behind when it has exited: every box it made already asked to end (ending or
    /// ended; nothing left running until its maximum duration), and then, polling with a deadline, every one ended.
    /// Returns the boxes as they ended.
    /// </summary>
    public async Task<IReadOnlyList<ListedBox>> AssertEverythingEndsAsync(CancellationToken cancellationToken)
    {
        var atExit = await ListBoxesAsync(cancellationToken);
        var running = atExit.Where(b => !b.IsEndingOrEnded).ToList();
        Assert.True(running.Count == 0, $"Boxes still running after the example exited: {string.Join(", ", running)}");
        var deadline = DateTimeOffset.UtcNow + TimeSpan.FromSeconds(30);
        var delay = TimeSpan.FromMilliseconds(10);
        while (true)
        {
            var boxes = await ListBoxesAsync(cancellationToken);
            if (boxes.All(b => b.HasEnded)) return boxes;
            if (DateTimeOffset.UtcNow > deadline)
                throw new TimeoutException($"Boxes not ended 30 s after the example exited: {string.Join(", ", boxes.Where(b => !b.HasEnded))}");
            await Task.Delay(delay, cancellationToken);
            delay = TimeSpan.FromMilliseconds(Math.Min(delay.TotalMilliseconds * 2, 250));
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cleanup = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            foreach (var box in (await ListBoxesAsync(cleanup.Token)).Where(b => !b.IsEndingOrEnded))
                (await _http.DeleteAsync($"/v1/{box.Kind}/{box.Id}", cleanup.Token)).Dispose();
        }
        finally
        {
            _http.Dispose();
        }
    }

    private static HttpClient Client(Uri apiUrl, string key)
    {
        var http = new HttpClient { BaseAddress = apiUrl, Timeout = TimeSpan.FromSeconds(30) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        return http;
    }
}
