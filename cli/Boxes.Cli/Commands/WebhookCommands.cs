using System.CommandLine;
using Boxes.Cli.Output;
using Boxes.Sdk;

namespace Boxes.Cli.Commands;

/// <summary><c>boxes webhooks ...</c>: endpoints that receive the organisation's lifecycle events.</summary>
internal static class WebhookCommands
{
    public static Command Build(CommandContext context)
    {
        var webhooks = new Command("webhooks", "Webhook endpoints (Standard Webhooks: signed, retried, logged)");
        webhooks.Subcommands.Add(Create(context));
        webhooks.Subcommands.Add(List(context));
        webhooks.Subcommands.Add(OnOne(context, "get", "Show a webhook", (c, id, ct) => c.GetWebhookAsync(id, ct)));
        webhooks.Subcommands.Add(OnOne(context, "test", "Send it a webhook.test event; prints the delivery's id", (c, id, ct) => c.TestWebhookAsync(id, ct)));
        webhooks.Subcommands.Add(Deliveries(context));
        webhooks.Subcommands.Add(OnOne(context, "rm", "Delete a webhook", async (c, id, ct) =>
        {
            await c.DeleteWebhookAsync(id, ct);
            return new { id, deleted = true };
        }));
        webhooks.Subcommands.Add(OnOne(context, "rotate-secret",
            "A new signing secret (printed once); the previous one keeps signing until previousSecretExpiresAt",
            (c, id, ct) => c.RotateWebhookSecretAsync(id, ct)));
        webhooks.Subcommands.Add(OnOne(context, "enable", "Re-enable a webhook that was disabled", (c, id, ct) => c.EnableWebhookAsync(id, ct)));
        webhooks.Subcommands.Add(Replay(context));
        return webhooks;
    }

    private static Command Create(CommandContext context)
    {
        var url = new Option<string>("--url") { Description = "Where deliveries go (http or https)", Required = true };
        var events = new Option<string[]>("--event")
        {
            Description = "An event type to deliver, e.g. sandbox.ready (repeatable)",
            Required = true,
            Arity = ArgumentArity.OneOrMore,
            HelpName = "TYPE",
        };
        var command = new Command("create", "Create a webhook; its signing secret is printed this once") { url, events };
        context.Action(command, async (run, ct) =>
        {
            var webhook = await run.Browsers.CreateWebhookAsync(new CreateWebhookRequest { Url = run.Get(url), EventTypes = run.Get(events) }, ct);
            run.Print.Object(webhook);
            if (!run.Json && webhook.SigningSecret is not null)
                run.Print.Notice("Signing secret (shown only now; keep it)", webhook.SigningSecret);
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command List(CommandContext context)
    {
        var command = new Command("ls", "List webhooks");
        context.Action(command, async (run, ct) =>
        {
            var items = await run.Browsers.ListWebhooksAsync(ct);
            if (run.Json)
            {
                // The API's own shape for GET /v1/webhooks.
                run.Print.WriteJson(new { items });
                return ExitCodes.Success;
            }
            run.Print.Table(BrowserCommands.Nodes(items), ["id", "url", "eventTypes", "status", "createdAt"], "No webhooks.");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Deliveries(CommandContext context)
    {
        var id = Options.Id("webhook");
        var limit = Options.PositiveInt("--limit", "At most this many");
        var cursor = new Option<string?>("--cursor") { Description = "Continue from a previous page's nextCursor" };
        var command = new Command("deliveries", "Deliveries with their attempts, newest first") { id, limit, cursor };
        context.Action(command, async (run, ct) =>
        {
            var page = await run.Browsers.ListWebhookDeliveriesAsync(run.Get(id), run.Get(limit), run.Get(cursor), ct);
            if (run.Json)
            {
                run.Print.WriteJson(page);
                return ExitCodes.Success;
            }
            run.Print.Table(page.Items.Select(d =>
            {
                var last = d.Attempts.OrderBy(a => a.Attempt).LastOrDefault();
                return CliJson.ToNode(new
                {
                    d.DeliveryId,
                    d.Type,
                    d.Status,
                    d.CreatedAt,
                    Attempts = d.Attempts.Count,
                    LastAttempt = last is null ? "" : last.StatusCode?.ToString() ?? last.Error ?? "",
                    d.NextAttemptAt,
                });
            }), ["deliveryId", "type", "status", "createdAt", "attempts", "lastAttempt", "nextAttemptAt"], "No deliveries.");
            if (page.NextCursor is not null) run.Print.Notice("More", $"--cursor {page.NextCursor}");
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command Replay(CommandContext context)
    {
        var id = Options.Id("webhook");
        var delivery = new Argument<string>("delivery-id") { Description = "The delivery to send again" };
        var command = new Command("replay", "Send a delivery again (same webhook-id, a fresh retry schedule)") { id, delivery };
        context.Action(command, async (run, ct) =>
        {
            await run.Browsers.ReplayWebhookDeliveryAsync(run.Get(id), run.Get(delivery), ct);
            run.Print.Object(new { deliveryId = run.Get(delivery), replayed = true });
            return ExitCodes.Success;
        });
        return command;
    }

    private static Command OnOne<T>(CommandContext context, string name, string description, Func<BrowserCloud, string, CancellationToken, Task<T>> call)
    {
        var id = Options.Id("webhook");
        var command = new Command(name, description) { id };
        context.Action(command, async (run, ct) =>
        {
            run.Print.Object(await call(run.Browsers, run.Get(id), ct));
            return ExitCodes.Success;
        });
        return command;
    }
}
