using System.CommandLine;
using System.CommandLine.Invocation;
using System.Net.Http;
using System.Net.WebSockets;
using Boxes.Cli.Commands;
using Boxes.Cli.Output;
using Boxes.Sdk;

namespace Boxes.Cli;

/// <summary>The <c>boxes</c> command tree, runnable in-process: <see cref="RunAsync(string[], CliIo, CancellationToken)"/>
/// parses, runs and turns every outcome into one of <see cref="ExitCodes"/>.</summary>
public static class Cli
{
    public static Task<int> RunAsync(string[] args, Stream stdin, Stream stdout, TextWriter stderr, CancellationToken cancellationToken = default) =>
        RunAsync(args, new CliIo(stdin, stdout, stderr), cancellationToken);

    public static async Task<int> RunAsync(string[] args, CliIo io, CancellationToken cancellationToken = default)
    {
        var globals = new GlobalOptions();
        var root = BuildRoot(io, globals);
        // Response files (@file) are off: an argument such as a path or code may legitimately start with '@'.
        var parse = root.Parse(args, new ParserConfiguration { ResponseFileTokenReplacer = null });
        var json = JsonRequested(parse, globals);

        if (parse.Action is ParseErrorAction)
        {
            var messages = parse.Errors.Select(e => e.Message).Distinct().ToList();
            foreach (var message in messages) io.Err.WriteLine($"boxes: {message}");
            io.Err.WriteLine($"Run '{CommandPath(parse)} --help' for usage.");
            if (json) WriteError(io, 0, "USAGE_ERROR", string.Join(" ", messages), null, null);
            return ExitCodes.UsageError;
        }

        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration
            {
                Output = io.Out,
                Error = io.Err,
                EnableDefaultExceptionHandler = false,
                // Program handles Ctrl-C itself (one cancellation token for the whole run, exit 130).
                ProcessTerminationTimeout = null,
            }, cancellationToken);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            io.Err.WriteLine("boxes: interrupted");
            return ExitCodes.Interrupted;
        }
        catch (UsageException e)
        {
            io.Err.WriteLine($"boxes: {e.Message}");
            if (json) WriteError(io, 0, "USAGE_ERROR", e.Message, null, null);
            return ExitCodes.UsageError;
        }
        catch (BoxesError e)
        {
            var exit = e.Code switch
            {
                BoxesError.TimeoutCode => ExitCodes.TimedOut,
                BoxesError.NetworkErrorCode => ExitCodes.Unreachable,
                _ => ExitCodes.ApiError,
            };
            var plan = e.RequiredPlan is null ? "" : $" (requires the {e.RequiredPlan} plan; current: {e.CurrentPlan ?? "unknown"})";
            var status = e.Status == 0 ? "" : $" {e.Status}";
            io.Err.WriteLine($"boxes: {e.Code}{status}: {e.Message}{plan}");
            if (json) WriteError(io, e.Status, e.Code, e.Message, e.RequiredPlan, e.CurrentPlan);
            return exit;
        }
        catch (CliApiException e)
        {
            io.Err.WriteLine($"boxes: {e.Code}{(e.Status == 0 ? "" : $" {e.Status}")}: {e.Message}");
            if (json) WriteError(io, e.Status, e.Code, e.Message, null, null);
            return ExitCodes.ApiError;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A local file that could not be read (permissions, a folder given as a file) or a terminal stty refused.
            io.Err.WriteLine($"boxes: {e.Message}");
            if (json) WriteError(io, 0, "LOCAL_ERROR", e.Message, null, null);
            return ExitCodes.UsageError;
        }
        catch (Exception e) when (e is HttpRequestException or WebSocketException)
        {
            // Only the terminal's socket gets here; the SDK turns its own network failures into BoxesError.
            io.Err.WriteLine($"boxes: could not reach the API: {e.Message}");
            if (json) WriteError(io, 0, BoxesError.NetworkErrorCode, e.Message, null, null);
            return ExitCodes.Unreachable;
        }
    }

    public static RootCommand BuildRoot(CliIo io, GlobalOptions globals)
    {
        var root = new RootCommand($"""
            boxes: browser sessions, code sandboxes, webhooks, usage and billing on a Boxes platform.

            {ExitCodes.HelpText}
            """);
        root.Options.Add(globals.ApiUrl);
        root.Options.Add(globals.ApiKey);
        root.Options.Add(globals.Json);
        var context = new CommandContext(io, globals);
        root.Subcommands.Add(BrowserCommands.Build(context));
        root.Subcommands.Add(SandboxCommands.Build(context));
        root.Subcommands.Add(WebhookCommands.Build(context));
        foreach (var command in BillingCommands.Build(context)) root.Subcommands.Add(command);
        return root;
    }

    private static bool JsonRequested(ParseResult parse, GlobalOptions globals)
    {
        try
        {
            return parse.GetValue(globals.Json);
        }
        catch (InvalidOperationException)
        {
            // "--json maybe" fails to parse as a bool; that is reported as the usage error it is.
            return false;
        }
    }

    private static string CommandPath(ParseResult parse)
    {
        var names = new List<string>();
        for (var result = parse.CommandResult; result is not null; result = result.Parent as System.CommandLine.Parsing.CommandResult)
            names.Insert(0, result.Command is RootCommand ? "boxes" : result.Command.Name);
        return string.Join(' ', names);
    }

    private static void WriteError(CliIo io, int status, string code, string message, string? requiredPlan, string? currentPlan) =>
        io.Out.WriteLine(CliJson.Serialize(new { error = new { status, code, message, requiredPlan, currentPlan } }));
}

/// <summary>What command builders share: the streams and the global options, and how an action is attached.</summary>
public sealed class CommandContext(CliIo io, GlobalOptions globals)
{
    public CliIo Io { get; } = io;
    public GlobalOptions Globals { get; } = globals;

    /// <summary>Attaches <paramref name="run"/> as <paramref name="command"/>'s action; its result is the exit code.</summary>
    public void Action(Command command, Func<Invocation, CancellationToken, Task<int>> run) =>
        command.SetAction(async (parse, cancellationToken) =>
        {
            using var invocation = new Invocation(parse, Io, Globals);
            return await run(invocation, cancellationToken);
        });
}
