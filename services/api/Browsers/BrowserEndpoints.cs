using Boxes.Api.Auth;
using Boxes.Api.Lifecycle;
using Boxes.Contracts;
using Microsoft.Extensions.Options;

namespace Boxes.Api.Browsers;

/// <summary><c>/v1/browsers</c>: the BrowserCloud half of the SDK.</summary>
public static class BrowserEndpoints
{
    public static readonly BoxSurface Surface = new(BoxKinds.Browser, "Browser session",
        [BoxStatuses.Queued, BoxStatuses.Scheduling, BoxStatuses.Starting, BoxStatuses.Ready, BoxStatuses.Ending, BoxStatuses.Ended, BoxStatuses.Failed]);

    public static IEndpointRouteBuilder MapBrowserEndpoints(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/v1/browsers").MapBoxLifecycle<SessionView>(Surface, (http, body, caller, _) =>
            ValueTask.FromResult(BrowserConfig.Parse(body, caller, http.RequestServices.GetRequiredService<IOptions<PlanCatalog>>().Value)));
        return app;
    }
}
