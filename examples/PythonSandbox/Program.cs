// A Python script run in a Boxes code sandbox: the C# version of the SDK reference's
// "Code sandbox with file I/O" example.
//
//   export BOXES_API_KEY=br_live_...              # your organisation's key
//   export BOXES_API_URL=http://127.0.0.1:8080    # where the API runs (this is the default)
//   dotnet run --project examples/PythonSandbox

using System.Text.Json;
using Boxes.Sdk;

// Ctrl+C cancels the call in flight; the `await using` below still kills the sandbox.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancellation.Cancel(); };
var ct = cancellation.Token;

try
{
    // Without options the key comes from BOXES_API_KEY and the address from BOXES_API_URL.
    using var sandboxes = new SandboxCloud();

    // Creates the sandbox and waits until it is ready; `await using` kills it however this program ends.
    await using var sandbox = await sandboxes.LaunchAsync(new() { Runtime = "python", Size = "standard" }, ct);
    Console.WriteLine($"sandbox {sandbox.Id} is ready");

    // Files live under /workspace; a write creates missing folders.
    await sandbox.Fs.WriteAsync("/workspace/analyze.py", """
        import json
        data = {"result": [i**2 for i in range(10)]}
        print(json.dumps(data))
        """, ct);

    // With arguments the program is run directly; a command without them goes through /bin/sh -c.
    var result = await sandbox.ExecAsync("python3", ["/workspace/analyze.py"], cancellationToken: ct);
    if (result.ExitCode != 0)
    {
        Console.Error.WriteLine($"analyze.py exited with {result.ExitCode}: {result.Stderr}");
        return 1;
    }

    var analysis = JsonSerializer.Deserialize<Analysis>(result.Stdout, JsonSerializerOptions.Web)
        ?? throw new InvalidDataException($"analyze.py printed no JSON object: {result.Stdout}");
    Console.WriteLine($"result: [{string.Join(", ", analysis.Result)}]");

    Console.WriteLine("/workspace:");
    foreach (var entry in await sandbox.Fs.ListAsync("/workspace", ct))
        Console.WriteLine($"  {entry.Type,-4} {entry.Size,8} {entry.Name}");

    await sandbox.KillAsync(ct);
    return 0;
}
catch (ArgumentException error) when (error.ParamName == "options")
{
    // No key configured (BOXES_API_KEY): the SDK says so before any request is made.
    Console.Error.WriteLine(error.Message);
    return 2;
}
catch (BoxesError error)
{
    // Every API error has the HTTP status and a stable code; plan errors also name the plan you would need.
    Console.Error.WriteLine($"Boxes API error {error.Status} {error.Code}: {error.Message}");
    if (error.RequiredPlan is not null) Console.Error.WriteLine($"requires the {error.RequiredPlan} plan (yours: {error.CurrentPlan})");
    return 1;
}
catch (OperationCanceledException) when (ct.IsCancellationRequested)
{
    Console.Error.WriteLine("cancelled; the sandbox was killed");
    return 130;
}

/// <summary>What analyze.py prints.</summary>
sealed record Analysis(int[] Result);
