using System.CommandLine;
using System.Text.Json.Nodes;
using Boxes.Cli.Output;
using Boxes.Sdk;

namespace Boxes.Cli.Commands;

/// <summary><c>boxes browsers ...</c>: headless browser sessions.</summary>
internal static class BrowserCommands
{
    private static readonly string[] ListColumns = ["id", "status", "weight", "region", "createdAt", "endReason"];

    public static Command Build(CommandContext context)
    {
        var browsers = new Command("browsers", "Headless browser sessions, driven over CDP (Puppeteer, Playwright)");
        browsers.Subcommands.Add(Launch(context));
        browsers.Subcommands.Add(List(context));
        browsers.Subcommands.Add(Get(context));
        browsers.Subcommands.Add(Close(context));
        return browsers;
    }

    private static Command Launch(CommandContext context)
    {
        var weight = Options.OneOf("--weight", "light (default), medium or heavy", "light", "medium", "heavy");
        var stealth = new Option<bool>("--stealth") { Description = "Anti-detection (builder plan and up)" };
        var recording = new Option<bool>("--recording") { Description = "Record the session (pro plan and up)" };
        var region = new Option<string?>("--region") { Description = "Preferred region" };
        var maxDuration = Options.PositiveLong("--max-duration-ms", "The session's time to live (default: the plan's limit)");
        var timeout = Options.ReadyTimeout();
        var command = new Command("launch",
            "Create a session, wait until it is ready and print its id and cdpUrl. The session keeps running for another " +
            "program to use: end it with 'boxes browsers close <id>'.")
        {
            weight, stealth, recording, region, maxDuration, timeout,
        };
        context.Action(command, async (run, ct) =>
        {
            var config = new BrowserConfig
            {
                Weight = run.Get(weight) ?? "light",
                Stealth = run.Get(stealth) ? true : null,
                Recording = run.Get(recording) ? true : null,
                Region = run.Get(region),
                MaxDurationMs = run.Get(maxDuration),
                Timeout = run.Get(timeout),
            };
            var created = await run.Browsers.CreateBrowserAsync(config, ct);
            try
            {
                await run.WhileWaitingAsync($"Waiting for browser {created.Id} to be ready",
                    () => run.Browsers.WaitForReadyAsync(created.Id, config.Timeout, ct));
            }
            catch (Exception e) when (e is OperationCanceledException or BoxesError)
            {
                // Nobody will get this id: do not leave the session running (and billed) until its max duration.
                await EndQuietlyAsync(() => run.Browsers.CloseBrowserAsync(created.Id, CancellationToken.None));
                throw;
            }
            var session = await run.Browsers.GetBrowserAsync(created.Id, ct);
            if (run.Json)
            {
                run.Print.WriteJson(session);
                return ExitCodes.Success;
            }
            run.Print.Object(new { session.Id, session.Status, session.Weight, session.CdpUrl, session.PreviewViewerUrl, session.ExpiresAt });
            run.Io.Err.WriteLine($"The session keeps running until 'boxes browsers close {session.Id}' or its max duration.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command List(CommandContext context)
    {
        var status = new Option<string?>("--status") { Description = "Only sessions with this status (queued, ready, ended, ...)" };
        var limit = Options.PositiveInt("--limit", "At most this many");
        var cursor = new Option<string?>("--cursor") { Description = "Continue from a previous page's nextCursor" };
        var command = new Command("ls", "List sessions, newest first") { status, limit, cursor };
        context.Action(command, async (run, ct) =>
        {
            var page = await run.Browsers.ListBrowsersAsync(run.Get(status), run.Get(cursor), run.Get(limit), ct);
            if (run.Json)
            {
                run.Print.WriteJson(page);
                return ExitCodes.Success;
            }
            run.Print.Table(page.Items.Select(s => CliJson.ToNode(s)), ListColumns, "No browser sessions.");
            if (page.NextCursor is not null) run.Print.Notice("More", $"--cursor {page.NextCursor}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Get(CommandContext context)
    {
        var id = Options.Id("session");
        var command = new Command("get", "Show a session") { id };
        context.Action(command, async (run, ct) =>
        {
            run.Print.Object(await run.Browsers.GetBrowserAsync(run.Get(id), ct));
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Close(CommandContext context)
    {
        var id = Options.Id("session");
        var command = new Command("close", "End a session (idempotent); prints it as it is afterwards (ending or ended)") { id };
        context.Action(command, async (run, ct) =>
        {
            await run.Browsers.CloseBrowserAsync(run.Get(id), ct);
            run.Print.Object(await run.Browsers.GetBrowserAsync(run.Get(id), ct));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Best-effort clean-up on the way out of a failed or interrupted launch; the original error is what matters.</summary>
    internal static async Task EndQuietlyAsync(Func<Task> end)
    {
        try
        {
            await end().WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // The launch already failed; its error is reported, this one would only hide it.
        }
    }

    internal static IEnumerable<JsonNode?> Nodes<T>(IEnumerable<T> items) => items.Select(i => CliJson.ToNode(i));
}
