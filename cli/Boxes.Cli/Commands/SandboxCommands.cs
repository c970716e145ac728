using System.CommandLine;
using System.Text;
using Boxes.Cli.Output;
using Boxes.Cli.Terminal;
using Boxes.Sdk;

namespace Boxes.Cli.Commands;

/// <summary><c>boxes sandboxes ...</c>: code sandboxes.</summary>
internal static class SandboxCommands
{
    private static readonly string[] ListColumns = ["id", "status", "runtime", "network", "region", "createdAt", "endReason"];

    public static Command Build(CommandContext context)
    {
        var sandboxes = new Command("sandboxes", "Code sandboxes: run commands and code, files, an interactive terminal");
        sandboxes.Subcommands.Add(Launch(context));
        sandboxes.Subcommands.Add(List(context));
        sandboxes.Subcommands.Add(Simple(context, "get", "Show a sandbox", (s, id, ct) => s.GetAsync(id, ct)));
        sandboxes.Subcommands.Add(Exec(context));
        sandboxes.Subcommands.Add(RunCode(context));
        sandboxes.Subcommands.Add(FsCommands.Build(context));
        sandboxes.Subcommands.Add(Terminal(context));
        sandboxes.Subcommands.Add(Simple(context, "pause", "Freeze every process (memory kept, metering stops)", (s, id, ct) => s.PauseAsync(id, ct)));
        sandboxes.Subcommands.Add(Simple(context, "resume", "Resume a paused sandbox", (s, id, ct) => s.ResumeAsync(id, ct)));
        sandboxes.Subcommands.Add(Checkpoint(context));
        sandboxes.Subcommands.Add(Simple(context, "kill", "End a sandbox (idempotent); prints it as it is afterwards (ending or ended)",
            async (s, id, ct) =>
            {
                await s.KillAsync(id, ct);
                return await s.GetAsync(id, ct);
            }));
        return sandboxes;
    }

    private static Command Launch(CommandContext context)
    {
        var runtime = Options.OneOf("--runtime", "bun (default), python or base", "bun", "python", "base");
        var env = Options.KeyValues("--env", "An environment variable for every command (repeatable)");
        var network = Options.OneOf("--network", "none (default: loopback only) or internet", "none", "internet");
        var ephemeral = new Option<bool?>("--ephemeral")
        {
            Description = "true (default): the workspace goes with the sandbox; false: it is archived as a checkpoint when the sandbox ends",
            HelpName = "true|false",
        };
        var fromCheckpoint = new Option<string?>("--from-checkpoint") { Description = "Start with the workspace of this checkpoint", HelpName = "KEY" };
        var region = new Option<string?>("--region") { Description = "Preferred region" };
        var maxDuration = Options.PositiveLong("--max-duration-ms", "The sandbox's time to live (default: the plan's limit)");
        var timeout = Options.ReadyTimeout();
        var command = new Command("launch", "Create a sandbox, wait until it is ready and print it. It keeps running: end it with 'boxes sandboxes kill <id>'.")
        {
            runtime, env, network, ephemeral, fromCheckpoint, region, maxDuration, timeout,
        };
        context.Action(command, async (run, ct) =>
        {
            var config = new SandboxConfig
            {
                Runtime = run.Get(runtime) ?? "bun",
                Env = Options.ToDictionary(run.Get(env)),
                Capabilities = run.Get(network) is { } net ? new SandboxCapabilities { Network = net } : null,
                Ephemeral = run.Get(ephemeral),
                FromCheckpoint = run.Get(fromCheckpoint),
                Region = run.Get(region),
                MaxDurationMs = run.Get(maxDuration),
                Timeout = run.Get(timeout),
            };
            var created = await run.Sandboxes.CreateAsync(config, ct);
            Sandbox ready;
            try
            {
                ready = await run.WhileWaitingAsync($"Waiting for sandbox {created.Id} to be ready",
                    () => run.Sandboxes.WaitForReadyAsync(created.Id, config.Timeout, ct));
            }
            catch (Exception e) when (e is OperationCanceledException or BoxesError)
            {
                // Nobody will get this id: do not leave the sandbox running (and billed) until its max duration.
                await BrowserCommands.EndQuietlyAsync(() => run.Sandboxes.KillAsync(created.Id, CancellationToken.None));
                throw;
            }
            run.Print.Object(ready);
            if (!run.Json) run.Io.Err.WriteLine($"The sandbox keeps running until 'boxes sandboxes kill {ready.Id}' or its max duration.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command List(CommandContext context)
    {
        var status = new Option<string?>("--status") { Description = "Only sandboxes with this status (ready, paused, ended, ...)" };
        var limit = Options.PositiveInt("--limit", "At most this many");
        var cursor = new Option<string?>("--cursor") { Description = "Continue from a previous page's nextCursor" };
        var command = new Command("ls", "List sandboxes, newest first") { status, limit, cursor };
        context.Action(command, async (run, ct) =>
        {
            var page = await run.Sandboxes.ListAsync(run.Get(status), run.Get(cursor), run.Get(limit), ct);
            if (run.Json)
            {
                run.Print.WriteJson(page);
                return ExitCodes.Success;
            }
            run.Print.Table(BrowserCommands.Nodes(page.Items), ListColumns, "No sandboxes.");
            if (page.NextCursor is not null) run.Print.Notice("More", $"--cursor {page.NextCursor}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Exec(CommandContext context)
    {
        var id = Options.Id("sandbox");
        var commandLine = new Argument<string[]>("command")
        {
            Description = "After --: the program and its arguments, run directly; a single word or string runs through /bin/sh -c",
            Arity = ArgumentArity.OneOrMore,
        };
        var cwd = new Option<string?>("--cwd") { Description = "Working directory (default /workspace)", HelpName = "DIR" };
        var env = Options.KeyValues("--env", "An environment variable for this command (repeatable)");
        var timeout = Options.PositiveInt("--timeout-ms", "Kill the command after this long (default 60 000; it then exits 124)");
        var stdinFile = new Option<string?>("--stdin-file") { Description = "Give this file (or - for stdin) to the command's standard input", HelpName = "FILE|-" };
        var command = new Command("exec",
            "Run a command: its stdout and stderr are written as they are, and boxes exits with its exit code. " +
            "Example: boxes sandboxes exec <id> -- sh -c 'ls | wc -l'")
        {
            id, commandLine, cwd, env, timeout, stdinFile,
        };
        context.Action(command, async (run, ct) =>
        {
            var words = run.Get(commandLine);
            string? stdin = null;
            if (run.Get(stdinFile) is { } source)
                stdin = Encoding.UTF8.GetString(await Options.ReadSourceAsync(run.Io, source, ct));
            var options = new ExecOptions { Cwd = run.Get(cwd), Env = Options.ToDictionary(run.Get(env)), Stdin = stdin, TimeoutMs = run.Get(timeout) };
            var result = await run.Sandboxes.ExecAsync(run.Get(id), words[0], words.Length > 1 ? words[1..] : null, options, ct);
            return Report(run, result);
        });
        return command;
    }

    private static Command RunCode(CommandContext context)
    {
        var id = Options.Id("sandbox");
        var dash = new Argument<string?>("-")
        {
            Description = "- to read the code from stdin",
            Arity = ArgumentArity.ZeroOrOne,
            HelpName = "-",
        };
        var code = new Option<string?>("--code") { Description = "The code itself", HelpName = "TEXT" };
        var file = new Option<string?>("--file") { Description = "Read the code from this file", HelpName = "FILE" };
        var timeout = Options.PositiveInt("--timeout-ms", "Kill it after this long (it then exits 124)");
        var command = new Command("run-code",
            "Run code with the sandbox's runtime (python3, bun or sh); exits with its exit code. Give exactly one of --code, --file or -.")
        {
            id, dash, code, file, timeout,
        };
        context.Action(command, async (run, ct) =>
        {
            var fromStdin = run.Get(dash) is { } word
                ? word == "-" ? true : throw new UsageException($"Unexpected argument '{word}': use --code TEXT, --file FILE or - (stdin).")
                : false;
            var given = (run.Get(code) is not null ? 1 : 0) + (run.Get(file) is not null ? 1 : 0) + (fromStdin ? 1 : 0);
            if (given != 1) throw new UsageException("Give exactly one of --code TEXT, --file FILE or - (stdin).");
            var text = run.Get(code) ?? Encoding.UTF8.GetString(await Options.ReadSourceAsync(run.Io, run.Get(file) ?? "-", ct));
            var result = await run.Sandboxes.RunCodeAsync(run.Get(id), text, run.Get(timeout), ct);
            return Report(run, result);
        });
        return command;
    }

    /// <summary>exec and run-code: the output as it is (or the result as JSON), and the command's own exit code.</summary>
    private static int Report(Invocation run, ExecResult result)
    {
        if (run.Json)
        {
            run.Print.WriteJson(result);
            return result.ExitCode;
        }
        run.Io.Out.Write(result.Stdout);
        run.Io.Err.Write(result.Stderr);
        if (result.TimedOut) run.Io.Err.WriteLine($"boxes: the command was killed at its timeout after {result.DurationMs} ms");
        if (result.StdoutTruncated || result.StderrTruncated) run.Io.Err.WriteLine("boxes: the output was cut at the API's cap");
        return result.ExitCode;
    }

    private static Command Terminal(CommandContext context)
    {
        var id = Options.Id("sandbox");
        var command = new Command("terminal",
            "An interactive shell in the sandbox. On a terminal: raw mode, window size followed. Piped: the input is typed " +
            "into the shell as it is and end of input is Ctrl-D. Exits with the shell's exit code.")
        {
            id,
        };
        context.Action(command, async (run, ct) =>
        {
            if (run.Json) throw new UsageException("terminal streams the shell's raw output; --json does not apply to it.");
            var info = await run.Sandboxes.TerminalAsync(run.Get(id), ct);
            return await TerminalSession.RunAsync(info.TerminalUrl, run.Io, ct);
        });
        return command;
    }

    private static Command Checkpoint(CommandContext context)
    {
        var id = Options.Id("sandbox");
        var command = new Command("checkpoint", "Store the workspace as a checkpoint (start a sandbox from it with --from-checkpoint)") { id };
        context.Action(command, async (run, ct) =>
        {
            run.Print.Object(await run.Sandboxes.CheckpointAsync(run.Get(id), ct));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>A command on one sandbox that prints what the API answers.</summary>
    private static Command Simple<T>(CommandContext context, string name, string description, Func<SandboxCloud, string, CancellationToken, Task<T>> call)
    {
        var id = Options.Id("sandbox");
        var command = new Command(name, description) { id };
        context.Action(command, async (run, ct) =>
        {
            run.Print.Object(await call(run.Sandboxes, run.Get(id), ct));
            return ExitCodes.Success;
        });
        return command;
    }
}
