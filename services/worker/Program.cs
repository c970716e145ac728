using Boxes.ServiceDefaults;
using Boxes.Worker;
using Boxes.Worker.Sandboxes;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceLogging();
builder.AddWorker();

var app = builder.Build();
app.MapDefaultEndpoints();
app.UseWebSockets();
app.MapWorkerEndpoints();
app.MapSandboxEndpoints();
app.Run();

public partial class Program;
