using Boxes.Cli;

// One cancellation for the whole run: the first Ctrl-C cancels it (the command cleans up and exits 130); a second
// one is left to the runtime and ends the process at once.
using var interrupted = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (interrupted.IsCancellationRequested) return;
    e.Cancel = true;
    interrupted.Cancel();
};
return await Cli.RunAsync(args, CliIo.ForConsole(), interrupted.Token);
