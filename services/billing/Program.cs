using Boxes.Billing;
using Boxes.Billing.Api;
using Boxes.ServiceDefaults;

// Meters vCPU-seconds from the box lifecycle events and serves usage and the usage feed (docs/INTERNAL.md, "Billing");
// the API's /v1/usage routes forward to the internal routes mapped here.
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddBilling();

var app = builder.Build();
app.UseBillingErrors();
app.MapDefaultEndpoints();
app.MapUsageRoutes();
app.Run();

public partial class Program;
