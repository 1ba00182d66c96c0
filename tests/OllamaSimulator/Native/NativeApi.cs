namespace OllamaSimulator.Native;

/// <summary>Ollama's native routes (<c>server/routes.go:GenerateRoutes</c>, the subset the router uses).</summary>
internal static class NativeApi
{
    private static readonly string[] GetHead = ["GET", "HEAD"];

    public static IEndpointRouteBuilder MapNativeApi(this IEndpointRouteBuilder app)
    {
        app.MapMethods("/", GetHead, InfoHandlers.RootAsync);
        app.MapMethods("/api/version", GetHead, InfoHandlers.VersionAsync);
        app.MapMethods("/api/tags", GetHead, InfoHandlers.TagsAsync);
        app.MapGet("/api/ps", InfoHandlers.PsAsync);
        app.MapPost("/api/show", InfoHandlers.ShowAsync);
        app.MapPost("/api/chat", GenerationHandlers.ChatAsync);
        app.MapPost("/api/generate", GenerationHandlers.GenerateAsync);
        app.MapPost("/api/embed", EmbedHandlers.EmbedAsync);
        app.MapPost("/api/embeddings", EmbedHandlers.EmbeddingsAsync);
        app.MapPost("/api/pull", ManagementHandlers.PullAsync);
        app.MapDelete("/api/delete", ManagementHandlers.DeleteAsync);
        app.MapPost("/api/copy", ManagementHandlers.CopyAsync);
        return app;
    }
}
