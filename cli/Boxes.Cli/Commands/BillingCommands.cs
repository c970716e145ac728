using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using Boxes.Cli.Output;

namespace Boxes.Cli.Commands;

/// <summary><c>boxes usage</c>, <c>boxes usage export</c> and <c>boxes billing</c>.</summary>
internal static class BillingCommands
{
    public static IEnumerable<Command> Build(CommandContext context)
    {
        yield return Usage(context);
        yield return Billing(context);
    }

    private static Command Usage(CommandContext context)
    {
        var from = Instant("--from", "Start of the period (ISO 8601; default: the start of this month, UTC)");
        var to = Instant("--to", "End of the period (ISO 8601; default: now)");
        var usage = new Command("usage", "Usage in a period: sessions, hours, vCPU-seconds, by kind") { from, to };
        context.Action(usage, async (run, ct) =>
        {
            var result = await run.Browsers.GetUsageAsync(run.Get(from), run.Get(to), ct);
            if (run.Json)
            {
                run.Print.WriteJson(result);
                return ExitCodes.Success;
            }
            run.Print.Object(new
            {
                Period = $"{result.Period.From:u} .. {result.Period.To:u}",
                result.TotalSessions,
                result.TotalBrowserHours,
                result.TotalVcpuSeconds,
            });
            run.Print.Table(
            [
                CliJson.ToNode(new { Kind = "browser", result.ByKind.Browser.Sessions, result.ByKind.Browser.Hours, result.ByKind.Browser.VcpuSeconds }),
                CliJson.ToNode(new { Kind = "sandbox", result.ByKind.Sandbox.Sessions, result.ByKind.Sandbox.Hours, result.ByKind.Sandbox.VcpuSeconds }),
            ], ["kind", "sessions", "hours", "vcpuSeconds"]);
            return ExitCodes.Success;
        });
        usage.Subcommands.Add(Export(context));
        return usage;
    }

    private static Command Export(CommandContext context)
    {
        var after = new Option<string?>("--after") { Description = "The cursor a previous page gave (default: from the beginning)", HelpName = "CURSOR" };
        var format = Options.OneOf("--format", "ndjson (default) or csv", "ndjson", "csv");
        var limit = Options.PositiveInt("--limit", "At most this many records");
        var command = new Command("export",
            "One page of the usage feed (a record per metered minute): the page on stdout, the next cursor on stderr " +
            "(with --json: {cursor, records}). Pass the cursor back as --after to read on.")
        {
            after, format, limit,
        };
        context.Action(command, async (run, ct) =>
        {
            var chosen = run.Get(format) ?? "ndjson";
            var page = await run.Browsers.ExportUsageAsync(run.Get(after), chosen, run.Get(limit), ct);
            if (run.Json)
            {
                // CSV has no parsed records; its text is kept so nothing is lost.
                if (chosen == "csv") run.Print.WriteJson(new { cursor = page.NextCursor, records = page.Records, csv = page.Body });
                else run.Print.WriteJson(new { cursor = page.NextCursor, records = page.Records });
                return ExitCodes.Success;
            }
            run.Io.Out.Write(page.Body);
            if (page.NextCursor is not null) run.Io.Err.WriteLine(page.NextCursor);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Billing(CommandContext context)
    {
        var command = new Command("billing", "The organisation's plan, period, limits and usage");
        context.Action(command, async (run, ct) =>
        {
            var billing = await run.Browsers.GetBillingAsync(ct);
            if (run.Json)
            {
                run.Print.WriteJson(billing);
                return ExitCodes.Success;
            }
            var features = new[] { ("stealth", billing.Limits.Features.Stealth), ("recording", billing.Limits.Features.Recording),
                ("dedicated isolation", billing.Limits.Features.DedicatedIsolation) }.Where(f => f.Item2).Select(f => f.Item1).ToList();
            run.Print.Object(new
            {
                billing.Plan,
                Period = $"{billing.CurrentPeriod.Start:u} .. {billing.CurrentPeriod.End:u}",
                ConcurrentBoxes = billing.Limits.ConcurrentBoxes,
                MaxDuration = TimeSpan.FromMilliseconds(billing.Limits.MaxDurationMs).ToString(),
                MonthlyVcpuHours = billing.Limits.MonthlyVcpuHours?.ToString(CultureInfo.InvariantCulture) ?? "unlimited",
                Features = features.Count == 0 ? "none" : string.Join(", ", features),
                VcpuHoursUsed = billing.Usage?.VcpuHours,
                ActiveBoxes = billing.Usage?.ActiveBoxes,
            });
            return ExitCodes.Success;
        });
        return command;
    }

    private static Option<DateTimeOffset?> Instant(string name, string description) => new(name)
    {
        Description = description,
        HelpName = "ISO",
        CustomParser = result =>
        {
            var text = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
            if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at))
                return at;
            result.AddError($"{name} takes an ISO 8601 date or time (2025-01-31 or 2025-01-31T12:00:00Z), got '{text}'.");
            return null;
        },
    };
}
