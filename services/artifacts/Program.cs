using Boxes.Artifacts;
using Boxes.Artifacts.Endpoints;
using Boxes.ServiceDefaults;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceDefaults();
builder.AddArtifacts();

var app = builder.Build();
app.UseArtifactErrors();
app.MapDefaultEndpoints();
app.MapArtifactEndpoints();
app.Run();

public partial class Program;
