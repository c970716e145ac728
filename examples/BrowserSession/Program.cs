// A Boxes browser session driven with Playwright: the C# version of the SDK reference's
// "Browser session with Puppeteer" example.
//
//   export BOXES_API_KEY=br_live_...              # your organisation's key
//   export BOXES_API_URL=http://127.0.0.1:8080    # where the API runs (this is the default)
//   dotnet run --project examples/BrowserSession -- https://example.com

using Boxes.Sdk;
using Microsoft.Playwright;

var url = args.Length > 0 ? args[0] : "https://example.com";

// Ctrl+C cancels the Boxes call in flight; the `await using` below still closes the session, so it
// stops being billed at once instead of running on until its maximum duration.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancellation.Cancel(); };
var ct = cancellation.Token;

try
{
    // BaseUrl defaults to BOXES_API_URL, else http://127.0.0.1:8080. (ApiKey would default to BOXES_API_KEY too.)
    using var cloud = new BrowserCloud(new() { ApiKey = Environment.GetEnvironmentVariable("BOXES_API_KEY") });

    // Creates the session and waits until it is ready (BrowserConfig.Timeout, 30 s by default).
    // The reference example also asks for `Stealth = true`: Boxes does not build stealth yet (the API answers
    // 501 NOT_IMPLEMENTED, see the README's "Not built yet"), so it is left out here.
    await using var session = await cloud.LaunchAsync(new() { Weight = "medium" }, ct);
    Console.WriteLine($"session {session.SessionId} is ready");

    // The CDP URL carries its own short-lived token, never your API key: give it to any CDP client as it is.
    using var playwright = await Playwright.CreateAsync();
    var browser = await playwright.Chromium.ConnectOverCDPAsync(session.CdpUrl);
    var context = browser.Contexts.Count > 0 ? browser.Contexts[0] : await browser.NewContextAsync();
    var page = context.Pages.Count > 0 ? context.Pages[0] : await context.NewPageAsync();

    await page.GotoAsync(url);
    Console.WriteLine(await page.TitleAsync());

    // Disconnect Playwright (for a browser reached over CDP this does not stop Chromium), then end the session.
    await browser.CloseAsync();
    await session.CloseAsync(ct);
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
catch (PlaywrightException error)
{
    // A page that cannot be loaded, for instance. The session was closed on the way out all the same.
    Console.Error.WriteLine($"browser error: {error.Message}");
    return 1;
}
catch (OperationCanceledException) when (ct.IsCancellationRequested)
{
    Console.Error.WriteLine("cancelled; the session was closed");
    return 130;
}
