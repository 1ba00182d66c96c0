using LlmRouter.Backends;
using LlmRouter.Backends.Ollama;
using LlmRouter.Errors;
using LlmRouter.Hosting;
using LlmRouter.OpenAi;
using LlmRouter.Routing;
using LlmRouter.Streaming;

namespace LlmRouter.Completions;

/// <summary>The request path for chat and legacy completions: parse, validate, translate, pick a deployment, relay.</summary>
internal sealed class GenerationHandler(ModelCatalog catalog, DeploymentSelector selector, BackendRegistry backends,
    GenerationRelay relay, TimeProvider time)
{
    public async Task HandleAsync(HttpContext context, Operation operation)
    {
        using var body = await JsonBody.ReadAsync(context.Request, context.RequestAborted);
        var request = ClientRequest.Parse(operation, body.Root);
        if (!catalog.TryGetGroup(request.Model, out var group)) throw new ApiErrorException(ApiError.ModelNotFound(request.Model));
        var prepared = OllamaRequestWriter.Prepare(request, body.Root);
        var created = time.GetUtcNow().ToUnixTimeSeconds();
        AnswerWriter writer = operation == Operation.Chat
            ? new ChatAnswerWriter(request.Model, request.Stream, request.IncludeUsage, created)
            : new CompletionAnswerWriter(request.Model, request.Stream, request.IncludeUsage, created);

        using var lease = selector.Acquire(group);
        var deployment = lease.Deployment;
        context.Response.Headers[RouterHeaders.Backend] = deployment.Id;
        try
        {
            await relay.RunAsync(context, backends.For(deployment), deployment, prepared, writer);
        }
        catch (BackendFailureException e)
        {
            throw new ApiErrorException(e.ToApiError());
        }
    }
}
