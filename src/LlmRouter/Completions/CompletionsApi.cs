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
        group.MapPost("/chat/completions", (HttpContext context) => generation.HandleAsync(context, Operation.Chat))
            .WithName("ChatCompletions" + nameSuffix)
            .WithSummary("OpenAI chat completions, streamed as SSE or not; translated to Ollama /api/chat.");
        group.MapPost("/completions", (HttpContext context) => generation.HandleAsync(context, Operation.Completion))
            .WithName("Completions" + nameSuffix)
            .WithSummary("Legacy text completions; translated to Ollama /api/generate.");
        group.MapPost("/embeddings", (HttpContext context) => embedding.HandleAsync(context))
            .WithName("Embeddings" + nameSuffix)
            .WithSummary("Embeddings; translated to Ollama /api/embed.");
        return group;
    }
}
