namespace OllamaSimulator.Http;

/// <summary>
/// gin's bodies for an unknown path (<c>404 page not found</c>) and a known path with the wrong method
/// (<c>405 method not allowed</c>, Ollama sets <c>HandleMethodNotAllowed</c>). Only empty 404/405 responses are
/// touched, so the JSON 404s of the API keep their bodies.
/// </summary>
internal static class GinStatusPages
{
    public static IApplicationBuilder UseGinStatusPages(this IApplicationBuilder app) =>
        app.UseStatusCodePages(context =>
        {
            var response = context.HttpContext.Response;
            var text = response.StatusCode switch
            {
                StatusCodes.Status404NotFound => "404 page not found",
                StatusCodes.Status405MethodNotAllowed => "405 method not allowed",
                _ => null,
            };
            if (text is null) return Task.CompletedTask;
            response.ContentType = "text/plain";
            return response.WriteAsync(text);
        });
}
