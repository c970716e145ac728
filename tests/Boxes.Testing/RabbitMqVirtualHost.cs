using System.Net.Http.Headers;
using System.Text;

namespace Boxes.Testing;

/// <summary>
/// A RabbitMQ virtual host of its own for one test class, so that exchanges named after message types
/// do not carry one test's messages into another's consumers.
/// </summary>
public sealed class RabbitMqVirtualHost : IAsyncDisposable
{
    public string Name { get; }
    /// <summary>amqp URL including the vhost, the shape ConnectionStrings:RabbitMq takes.</summary>
    public string Url { get; }
    private readonly HttpClient _http;

    private RabbitMqVirtualHost(string name, string url, HttpClient http)
    {
        Name = name;
        Url = url;
        _http = http;
    }

    public static async Task<RabbitMqVirtualHost> CreateAsync()
    {
        var management = new Uri(TestEnvironment.RabbitMqManagement);
        var amqp = new Uri(TestEnvironment.RabbitMq);
        var http = new HttpClient { BaseAddress = new Uri($"{management.Scheme}://{management.Authority}/") };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes(Uri.UnescapeDataString(management.UserInfo))));
        var name = $"test-{Guid.NewGuid():N}";
        (await http.PutAsync($"api/vhosts/{name}", null)).EnsureSuccessStatusCode();
        var user = Uri.UnescapeDataString(amqp.UserInfo.Split(':')[0]);
        (await http.PutAsync($"api/permissions/{name}/{Uri.EscapeDataString(user)}",
            new StringContent("""{"configure":".*","write":".*","read":".*"}""", Encoding.UTF8, "application/json"))).EnsureSuccessStatusCode();
        var url = $"{amqp.Scheme}://{amqp.UserInfo}@{amqp.Host}:{(amqp.Port > 0 ? amqp.Port : 5672)}/{name}";
        return new RabbitMqVirtualHost(name, url, http);
    }

    public async ValueTask DisposeAsync()
    {
        try { await _http.DeleteAsync($"api/vhosts/{Name}"); }
        catch (HttpRequestException) { /* the broker may already be gone at the end of a run */ }
        _http.Dispose();
    }
}
