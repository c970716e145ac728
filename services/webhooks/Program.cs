using Boxes.ServiceDefaults;
using Boxes.Webhooks;
using Boxes.Webhooks.Api;

// Box lifecycle events from the bus become signed HTTP deliveries to the endpoints organisations register
// (docs/INTERNAL.md, "Webhooks"); the API's /v1/webhooks routes forward to the internal routes mapped here.
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddWebhooks();

var app = builder.Build();
app.UseWebhookErrors();
app.MapDefaultEndpoints();
app.MapWebhookRoutes();
app.Run();

public partial class Program;
