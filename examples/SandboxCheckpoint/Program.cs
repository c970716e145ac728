// Work that outlives its sandbox: write files in one sandbox, checkpoint its workspace, kill it, and start
// a second sandbox from the checkpoint with the files in place.
//
//   export BOXES_API_KEY=br_live_...              # your organisation's key
//   export BOXES_API_URL=http://127.0.0.1:8080    # where the API runs (this is the default)
//   dotnet run --project examples/SandboxCheckpoint

using Boxes.Sdk;

// Ctrl+C cancels the call in flight; the `await using`s below still kill the sandboxes.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancellation.Cancel(); };
var ct = cancellation.Token;

try
{
    using var sandboxes = new SandboxCloud();

    string checkpointKey;
    await using (var first = await sandboxes.LaunchAsync(new() { Runtime = "python" }, ct))
    {
        Console.WriteLine($"sandbox {first.Id} is ready");

        // One file written through the API, one made by a program inside the sandbox.
        await first.Fs.WriteAsync("/workspace/notes/todo.txt", "write files, checkpoint, carry on elsewhere\n", ct);
        var made = await first.RunCodeAsync("open('/workspace/notes/squares.txt', 'w').write(str([i * i for i in range(5)]))", cancellationToken: ct);
        if (made.ExitCode != 0)
        {
            Console.Error.WriteLine($"the script exited with {made.ExitCode}: {made.Stderr}");
            return 1;
        }

        // The whole of /workspace becomes a tar.gz artifact; its key is what a new sandbox starts from.
        var checkpoint = await first.CheckpointAsync(ct);
        checkpointKey = checkpoint.Key ?? throw new InvalidOperationException("The checkpoint answer carried no key");
        Console.WriteLine($"checkpoint {checkpointKey}");

        await first.KillAsync(ct);
    }

    // A checkpoint can be used only by the organisation that made it.
    await using var second = await sandboxes.LaunchAsync(new() { Runtime = "python", FromCheckpoint = checkpointKey }, ct);
    Console.WriteLine($"sandbox {second.Id} started from the checkpoint");

    Console.Write($"todo.txt: {await second.Fs.ReadAsync("/workspace/notes/todo.txt", ct)}");
    Console.WriteLine($"squares.txt: {await second.Fs.ReadAsync("/workspace/notes/squares.txt", ct)}");

    await second.KillAsync(ct);
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
    Console.Error.WriteLine($"Boxes API error {error.Status} {error.Code}: {error.Message}");
    return 1;
}
catch (OperationCanceledException) when (ct.IsCancellationRequested)
{
    Console.Error.WriteLine("cancelled; the sandboxes were killed");
    return 130;
}
