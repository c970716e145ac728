using Boxes.Artifacts.Catalog;
using Boxes.Artifacts.Storage;
using Boxes.ServiceDefaults;
using Microsoft.Extensions.Options;

namespace Boxes.Artifacts;

public static class ArtifactsRegistration
{
    /// <summary>The blob store on the filesystem, the catalog in the <c>artifacts</c> schema, and the bus.</summary>
    public static IHostApplicationBuilder AddArtifacts(this IHostApplicationBuilder builder)
    {
        // Every route is internal: refuse to start without the shared key rather than answer 401 to everyone.
        InternalApi.Key(builder.Configuration);
        builder.Services.AddOptions<ArtifactsOptions>()
            .Bind(builder.Configuration.GetSection("Artifacts"))
            .Validate(o => o.MaxBytes > 0, "Artifacts:MaxBytes must be a positive number of bytes.")
            .Validate(o => !string.IsNullOrWhiteSpace(o.DataDir), "Artifacts:DataDir must name a folder.")
            .ValidateOnStart();
        builder.Services.AddMigrations("artifacts", typeof(ArtifactsRegistration).Assembly);
        builder.Services.AddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<FileSystemBlobStore>();
        builder.Services.AddSingleton<IBlobStore>(sp => sp.GetRequiredService<FileSystemBlobStore>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FileSystemBlobStore>());
        builder.Services.AddSingleton<ArtifactCatalog>();
        // The service appends to box streams but consumes nothing yet; the API's and the scheduler's relays publish its events.
        builder.AddBoxesBus();
        return builder;
    }
}
