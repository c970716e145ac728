using Boxes.Contracts;

namespace Boxes.Webhooks.Api;

/// <summary>Errors in the public <c>/v1</c> shape, <c>{"error": {"code", "message"}}</c>, so the API can pass them through unchanged.</summary>
public static class WebhookErrors
{
    public static IResult Error(int status, string code, string message) =>
        Results.Json(new { error = new { code, message } }, BoxesJson.Options, statusCode: status);

    /// <summary>400 VALIDATION_FAILED; the message starts with the field's name.</summary>
    public static IResult Validation(string field, string problem) => Error(400, "VALIDATION_FAILED", $"{field}: {problem}.");
    public static IResult WebhookNotFound(Guid id) => Error(404, "NOT_FOUND", $"Webhook {id} was not found.");
    public static IResult WebhookNotFound(string id) => Error(404, "NOT_FOUND", $"Webhook {id} was not found.");
    public static IResult DeliveryNotFound(string id) => Error(404, "NOT_FOUND", $"Delivery {id} was not found.");
    public static IResult Conflict(string message) => Error(409, "CONFLICT", message);
}

/// <summary>Unknown routes and crashes answer in the error shape too, never with an empty body or an HTML page.</summary>
public static class WebhookErrorHandling
{
    public static IApplicationBuilder UseWebhookErrors(this IApplicationBuilder app) => app.Use(async (http, next) =>
    {
        try
        {
            await next(http);
            if (http.Response.StatusCode == 404 && !http.Response.HasStarted && http.GetEndpoint() is null)
                await WebhookErrors.Error(404, "NOT_FOUND", $"The route {http.Request.Method} {http.Request.Path} was not found.").ExecuteAsync(http);
            else if (http.Response.StatusCode == 405 && !http.Response.HasStarted)
                await WebhookErrors.Error(405, "METHOD_NOT_ALLOWED", $"{http.Request.Method} is not allowed on {http.Request.Path}.").ExecuteAsync(http);
        }
        catch (BadHttpRequestException ex) when (!http.Response.HasStarted)
        {
            await WebhookErrors.Error(ex.StatusCode == 413 ? 413 : 400, "VALIDATION_FAILED", $"The request could not be read: {ex.Message}").ExecuteAsync(http);
        }
        catch (Exception ex) when (!http.Response.HasStarted && !http.RequestAborted.IsCancellationRequested)
        {
            http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Boxes.Webhooks")
                .LogError(ex, "Unhandled error on {Method} {Path}", http.Request.Method, http.Request.Path);
            await WebhookErrors.Error(500, "INTERNAL", "Something went wrong in the webhooks service; it has been logged.").ExecuteAsync(http);
        }
    });
}
