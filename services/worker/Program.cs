using Boxes.ServiceDefaults;
using Boxes.Worker;

var builder = WebApplication.CreateBuilder(args);
builder.AddServiceLogging();
builder.AddWorker();

var app = builder.Build();
app.MapDefaultEndpoints();
app.MapWorkerEndpoints();
app.Run();

public partial class Program;
