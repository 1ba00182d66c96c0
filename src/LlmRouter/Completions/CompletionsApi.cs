using LlmRouter.Backends;

namespace LlmRouter.Completions;

/// <summary>The OpenAI-compatible generation endpoints, mapped under <c>/v1</c> and at the root (LiteLLM serves both).</summary>
internal static class CompletionsApi
{
    /// <param name="nameSuffix">Keeps endpoint names unique when the same routes are mapped twice.</param>
    public static RouteGroupBuilder MapCompletionsApi(this RouteGroupBuilder group, string nameSuffix)
    {
        // The handlers are singletons, taken here once: a handler parameter would be resolved from RequestServices, which
        // creates a DI scope for every request.
        var services = ((IEndpointRouteBuilder)group).ServiceProvider;
        var generation = services.GetRequiredService<GenerationHandler>();
        var embedding = services.GetRequiredService<EmbeddingHandler>();
        // Each handler takes the request's token besides its context: a handler of the context alone is a plain request
        // delegate, which ASP.NET Core leaves out of the OpenAPI document. The body is read by the handler itself.
        group.MapPost("/chat/completions", (HttpContext context, CancellationToken _) => generation.HandleAsync(context, Operation.Chat))
            .WithName("ChatCompletions" + nameSuffix)
            .WithSummary("OpenAI chat completions, streamed as SSE or not; translated to Ollama /api/chat.")
            .Describe(streams: true);
        group.MapPost("/completions", (HttpContext context, CancellationToken _) => generation.HandleAsync(context, Operation.Completion))
            .WithName("Completions" + nameSuffix)
            .WithSummary("Legacy text completions; translated to Ollama /api/generate.")
            .Describe(streams: true);
        group.MapPost("/embeddings", (HttpContext context, CancellationToken _) => embedding.HandleAsync(context))
            .WithName("Embeddings" + nameSuffix)
            .WithSummary("Embeddings; translated to Ollama /api/embed.")
            .Describe(streams: false);
        return group;
    }

    /// <summary>
    /// What the OpenAPI document says of a generation endpoint: JSON (or SSE) out, or an OpenAI error. Not the body's
    /// content type: declared, routing would refuse a body sent without it (<c>curl -d</c> sends a form type), which
    /// Ollama and the router take as JSON all the same.
    /// </summary>
    private static RouteHandlerBuilder Describe(this RouteHandlerBuilder endpoint, bool streams)
    {
        if (streams) endpoint.Produces<System.Text.Json.Nodes.JsonObject>(StatusCodes.Status200OK, "application/json", "text/event-stream");
        else endpoint.Produces<System.Text.Json.Nodes.JsonObject>(StatusCodes.Status200OK, "application/json");
        foreach (var status in new[] { 400, 401, 403, 404, 413, 429, 502, 503, 504 })
            endpoint.Produces<System.Text.Json.Nodes.JsonObject>(status, "application/json");
        return endpoint;
    }
}
