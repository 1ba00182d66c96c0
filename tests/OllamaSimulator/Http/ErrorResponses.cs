namespace OllamaSimulator.Http;

/// <summary>
/// Error bodies: Ollama's <c>{"error":"…"}</c> on the native API, OpenAI's envelope on <c>/v1</c>
/// (type by status, <c>param</c> and <c>code</c> always null, as Ollama's compatibility layer writes them).
/// </summary>
internal static class ErrorResponses
{
    public const string Busy = "server busy, please try again.  maximum pending requests exceeded";

    public static Task WriteAsync(HttpContext ctx, int status, string message)
    {
        if (!ctx.Request.Path.StartsWithSegments("/v1"))
        {
            return JsonOutput.WriteAsync(ctx.Response, status, message, static (json, m) =>
            {
                json.WriteStartObject();
                json.WriteString("error"u8, m);
                json.WriteEndObject();
            });
        }

        var type = status switch
        {
            400 => "invalid_request_error",
            404 => "not_found_error",
            _ => "api_error",
        };
        return JsonOutput.WriteAsync(ctx.Response, status, (message, type), static (json, e) =>
        {
            json.WriteStartObject();
            json.WriteStartObject("error"u8);
            json.WriteString("message"u8, e.message);
            json.WriteString("type"u8, e.type);
            json.WriteNull("param"u8);
            json.WriteNull("code"u8);
            json.WriteEndObject();
            json.WriteEndObject();
        }, "application/json");
    }
}
