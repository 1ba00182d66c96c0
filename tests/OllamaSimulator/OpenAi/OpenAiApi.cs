using OllamaSimulator.Generation;
using OllamaSimulator.Http;
using OllamaSimulator.Models;
using OllamaSimulator.Recording;

namespace OllamaSimulator.OpenAi;

/// <summary>
/// The part of Ollama's OpenAI compatibility layer that benchmarks need, so a client can be pointed at the
/// simulator directly and at the router in the same way.
/// </summary>
internal static class OpenAiApi
{
    public static IEndpointRouteBuilder MapOpenAiApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/v1/chat/completions", ChatCompletionsAsync);
        app.MapGet("/v1/models", ModelsAsync);
        app.MapGet("/v1/models/{*model}", ModelAsync);
        return app;
    }

    private static async Task ChatCompletionsAsync(HttpContext ctx)
    {
        var (state, request) = (SimState.Of(ctx), SimRequest.Of(ctx));
        ChatCompletionRequest parsed;
        using (var body = JsonBody.Parse(request.Body, "openai.ChatCompletionRequest")) parsed = ChatCompletionReader.Read(body.RootElement, state);
        var job = parsed.Job;

        using var admission = await GenerationGate.AdmitAsync(ctx, state, request, job.Model);
        if (admission is null) return;
        IAnswerWriter writer = job.Stream ? new OpenAiStreamWriter(ctx, job, parsed.IncludeUsage) : new OpenAiAggregateWriter(ctx, job);
        await AnswerLoop.RunAsync(ctx, state, request, job, admission, writer);
    }

    private static Task ModelsAsync(HttpContext ctx)
    {
        var models = SimState.Of(ctx).Models.Held();
        return JsonOutput.WriteAsync(ctx.Response, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("object"u8, "list"u8);
            // Faithful to Ollama: an empty store lists "data": null (the router must not copy that).
            if (models.Count == 0)
            {
                json.WriteNull("data"u8);
            }
            else
            {
                json.WriteStartArray("data"u8);
                foreach (var m in models) WriteModel(json, m.Name, m);
                json.WriteEndArray();
            }
            json.WriteEndObject();
        }, "application/json");
    }

    private static Task ModelAsync(HttpContext ctx)
    {
        var id = (string)ctx.Request.RouteValues["model"]!;
        var model = SimState.Of(ctx).Models.Find(id) ?? throw new ApiException(404, $"model '{id}' not found");
        return JsonOutput.WriteAsync(ctx.Response, StatusCodes.Status200OK, json => WriteModel(json, id, model), "application/json");
    }

    private static void WriteModel(System.Text.Json.Utf8JsonWriter json, string id, ModelEntry model)
    {
        json.WriteStartObject();
        json.WriteString("id"u8, id);
        json.WriteString("object"u8, "model"u8);
        json.WriteNumber("created"u8, model.ModifiedAt.ToUnixTimeSeconds());
        json.WriteString("owned_by"u8, ModelName.Namespace(model.Name));
        json.WriteEndObject();
    }
}
