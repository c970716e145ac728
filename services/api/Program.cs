using Boxes.Api;
using Boxes.Api.Admin;
using Boxes.Api.Artifacts;
using Boxes.Api.Auth;
using Boxes.Api.Billing;
using Boxes.Api.Browsers;
using Boxes.Api.Cdp;
using Boxes.Api.Errors;
using Boxes.Api.Health;
using Boxes.Api.Sandboxes;
using Boxes.Api.Usage;
using Boxes.Api.Webhooks;
using Boxes.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddApi();

var app = builder.Build();
app.UseApiErrors();
app.UseWebSockets();
app.UseApiAuthentication();
app.MapDefaultEndpoints();
app.MapReadiness();
app.MapAdminEndpoints();
app.MapBrowserEndpoints();
app.MapCdpProxy();
app.MapSandboxEndpoints();
app.MapTerminalProxy();
app.MapArtifactContent();
app.MapWebhookEndpoints();
app.MapUsageEndpoints();
app.MapBillingEndpoints();
app.Run();

public partial class Program;
