using System.CommandLine;
using Boxes.Cli.Output;

namespace Boxes.Cli.Commands;

/// <summary><c>boxes sandboxes fs ...</c>: files under the sandbox's /workspace.</summary>
internal static class FsCommands
{
    public static Command Build(CommandContext context)
    {
        var fs = new Command("fs", "Files under the sandbox's /workspace (paths as /workspace/a/b or a/b)");
        fs.Subcommands.Add(Read(context));
        fs.Subcommands.Add(Write(context));
        fs.Subcommands.Add(List(context));
        return fs;
    }

    private static Command Read(CommandContext context)
    {
        var id = Options.Id("sandbox");
        var path = new Argument<string>("path") { Description = "The file" };
        var command = new Command("read", "Write the file's bytes to stdout, unchanged (with --json: {path, size, contentBase64})") { id, path };
        context.Action(command, async (run, ct) =>
        {
            var bytes = await run.Sandboxes.Fs.ReadBytesAsync(run.Get(id), run.Get(path), ct);
            if (run.Json)
            {
                run.Print.WriteJson(new { path = run.Get(path), size = bytes.Length, contentBase64 = Convert.ToBase64String(bytes) });
                return ExitCodes.Success;
            }
            await run.Io.Out.FlushAsync(ct);
            await run.Io.Stdout.WriteAsync(bytes, ct);
            await run.Io.Stdout.FlushAsync(ct);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Write(CommandContext context)
    {
        var id = Options.Id("sandbox");
        var path = new Argument<string>("path") { Description = "The file (parent folders are created)" };
        var dash = new Argument<string?>("-") { Description = "- to read the content from stdin", Arity = ArgumentArity.ZeroOrOne, HelpName = "-" };
        var fromFile = new Option<string?>("--from-file") { Description = "Read the content from this local file", HelpName = "FILE" };
        var command = new Command("write", "Write a file from a local file (--from-file F) or stdin (-), bytes unchanged") { id, path, dash, fromFile };
        context.Action(command, async (run, ct) =>
        {
            var word = run.Get(dash);
            if (word is not null && word != "-") throw new UsageException($"Unexpected argument '{word}': use --from-file FILE or - (stdin).");
            var file = run.Get(fromFile);
            if ((word is null) == (file is null)) throw new UsageException("Give exactly one of --from-file FILE or - (stdin).");
            var bytes = await Options.ReadSourceAsync(run.Io, file ?? "-", ct);
            await run.Sandboxes.Fs.WriteBytesAsync(run.Get(id), run.Get(path), bytes, ct);
            if (run.Json) run.Print.WriteJson(new { path = run.Get(path), size = bytes.Length });
            else run.Print.Line($"Wrote {Printer.Bytes(bytes.Length)} to {run.Get(path)}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command List(CommandContext context)
    {
        var id = Options.Id("sandbox");
        var path = new Argument<string>("path") { Description = "The folder", DefaultValueFactory = _ => "/workspace" };
        var command = new Command("ls", "List a folder (default /workspace)") { id, path };
        context.Action(command, async (run, ct) =>
        {
            var entries = await run.Sandboxes.Fs.ListAsync(run.Get(id), run.Get(path), ct);
            if (run.Json)
            {
                run.Print.WriteJson(new { entries });
                return ExitCodes.Success;
            }
            run.Print.Table(entries.Select(e => CliJson.ToNode(new
            {
                e.Name,
                e.Type,
                Size = e.Type == "dir" ? "" : Printer.Bytes(e.Size),
                Mtime = e.Mtime?.ToString("u"),
            })), ["name", "type", "size", "mtime"], "Empty.");
            return ExitCodes.Success;
        });
        return command;
    }
}
