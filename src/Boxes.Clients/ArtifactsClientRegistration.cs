using Boxes.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Boxes.Clients;

public static class ArtifactsClientRegistration
{
    public const string AddressKey = "Artifacts:Address";
    public const string DefaultAddress = "http://127.0.0.1:8085";

    /// <summary>
    /// Registers <see cref="ArtifactsClient"/> as a typed HttpClient for <c>Artifacts:Address</c> (default
    /// <c>http://127.0.0.1:8085</c>) carrying the internal key. Throws at once when the key or the address is
    /// unusable, so a misconfigured service fails at startup rather than on its first upload.
    /// </summary>
    public static IServiceCollection AddArtifactsClient(this IServiceCollection services, IConfiguration configuration)
    {
        var baseAddress = InternalApi.ServiceAddress(configuration, AddressKey, DefaultAddress);
        var key = InternalApi.Key(configuration);
        services.AddHttpClient<ArtifactsClient>(http =>
            {
                http.BaseAddress = baseAddress;
                http.DefaultRequestHeaders.Add(InternalApi.HeaderName, key);
                // A 2 GiB checkpoint over a busy link takes minutes, not HttpClient's default 100 s; callers
                // that need a tighter bound pass a cancellation token.
                http.Timeout = TimeSpan.FromHours(1);
            })
            // Service-to-service traffic on the private network: an HTTP(S)_PROXY meant for the outside must not capture it.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                UseProxy = false,
                ConnectTimeout = TimeSpan.FromSeconds(10),
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            });
        return services;
    }
}
