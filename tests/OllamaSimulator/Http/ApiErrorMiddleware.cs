namespace OllamaSimulator.Http;

/// <summary>Turns <see cref="ApiException"/> from any handler into the error body of its API.</summary>
internal sealed class ApiErrorMiddleware(RequestDelegate next)
{
    public async Task InvokeAsync(HttpContext ctx)
    {
        try
        {
            await next(ctx);
        }
        catch (ApiException e) when (!ctx.Response.HasStarted)
        {
            await ErrorResponses.WriteAsync(ctx, e.Status, e.Message);
        }
    }
}
