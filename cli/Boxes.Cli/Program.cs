using System.Runtime.InteropServices;
using Boxes.Cli;

// One cancellation for the whole run: the first Ctrl-C cancels it (the command cleans up and exits 130); a second
// one is left to the default handling and ends the process at once. On Unix through PosixSignalRegistration rather
// than Console.CancelKeyPress, which initialises .NET's console and leaves the terminal in keypad-transmit mode.
using var interrupted = new CancellationTokenSource();
void OnInterrupt(Action keepRunning)
{
    if (interrupted.IsCancellationRequested) return;
    keepRunning();
    interrupted.Cancel();
}
using var sigint = OperatingSystem.IsWindows() ? null : PosixSignalRegistration.Create(PosixSignal.SIGINT, context => OnInterrupt(() => context.Cancel = true));
if (OperatingSystem.IsWindows()) Console.CancelKeyPress += (_, e) => OnInterrupt(() => e.Cancel = true);
return await Cli.RunAsync(args, CliIo.ForConsole(), interrupted.Token);
