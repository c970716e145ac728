using Boxes.ServiceDefaults;

// The webhooks service joins the bus and reports healthy; its features arrive with their own issue
// (see the README's list of what is not built yet).
var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddBoxesBus();

var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();

public partial class Program;
