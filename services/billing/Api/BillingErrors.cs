using Boxes.Contracts;

namespace Boxes.Billing.Api;

/// <summary>Errors in the public <c>/v1</c> shape, <c>{"error": {"code", "message"}}</c>, so the API can pass them through unchanged.</summary>
public static class BillingErrors
{
    public static IResult Error(int status, string code, string message) =>
        Results.Json(new { error = new { code, message } }, BoxesJson.Options, statusCode: status);

    /// <summary>400 VALIDATION_FAILED; the message starts with the field's name.</summary>
    public static IResult Validation(string field, string problem) => Error(400, "VALIDATION_FAILED", $"{field}: {problem}.");

    /// <summary>Unknown routes and crashes answer in the error shape too, never with an empty body or an HTML page.</summary>
    public static IApplicationBuilder UseBillingErrors(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        try
        {
            await next(http);
            if (http.Response.StatusCode == 404 && !http.Response.HasStarted && http.GetEndpoint() is null)
                await Error(404, "NOT_FOUND", $"The route {http.Request.Method} {http.Request.Path} was not found.").ExecuteAsync(http);
            else if (http.Response.StatusCode == 405 && !http.Response.HasStarted)
                await Error(405, "METHOD_NOT_ALLOWED", $"{http.Request.Method} is not allowed on {http.Request.Path}.").ExecuteAsync(http);
        }
        catch (BadHttpRequestException ex) when (!http.Response.HasStarted)
        {
            await Error(400, "VALIDATION_FAILED", $"The request could not be read: {ex.Message}").ExecuteAsync(http);
        }
        catch (Exception ex) when (!http.Response.HasStarted && !http.RequestAborted.IsCancellationRequested)
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Boxes.Billing")
                .LogError(ex, "Unhandled error on {Method} {Path}", http.Request.Method, http.Request.Path);
            await Error(500, "INTERNAL", "Something went wrong in the billing service; it has been logged.").ExecuteAsync(http);
        }
    });
}
