using OllamaSimulator.Http;
using OllamaSimulator.Models;

namespace OllamaSimulator.Native;

/// <summary><c>/</c>, <c>/api/version</c>, <c>/api/tags</c>, <c>/api/ps</c> and <c>/api/show</c>.</summary>
internal static class InfoHandlers
{
    public const string Version = "0.12.3-sim";

    public static Task RootAsync(HttpContext ctx)
    {
        // gin's c.String: text/plain, no trailing newline.
        ctx.Response.ContentType = "text/plain; charset=utf-8";
        ctx.Response.ContentLength = 17;
        return HttpMethods.IsHead(ctx.Request.Method) ? Task.CompletedTask : ctx.Response.WriteAsync("Ollama is running");
    }

    public static Task VersionAsync(HttpContext ctx) =>
        JsonOutput.WriteAsync(ctx.Response, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("version"u8, Version);
            json.WriteEndObject();
        });

    public static Task TagsAsync(HttpContext ctx)
    {
        var state = SimState.Of(ctx);
        var knobs = state.Knobs.Current;
        var models = state.Models.Held();
        return JsonOutput.WriteAsync(ctx.Response, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("models"u8);
            foreach (var m in models)
            {
                json.WriteStartObject();
                json.WriteString("name"u8, m.Name);
                json.WriteString("model"u8, m.Name);
                json.WriteString("modified_at"u8, GoTime.Local(m.ModifiedAt));
                json.WriteNumber("size"u8, m.Size);
                json.WriteString("digest"u8, m.Digest);
                ModelJson.WriteDetails(json, m, knobs.ContextLength, ModelJson.EmbeddingLength(m, knobs.EmbeddingDims));
                ModelJson.WriteCapabilities(json, m);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    public static Task PsAsync(HttpContext ctx)
    {
        var state = SimState.Of(ctx);
        var contextLength = state.Knobs.Current.ContextLength;
        var models = state.Models.Loaded();
        // keep_alive is not tracked per model: everything loaded "expires" 5 minutes from now, Ollama's default.
        var expiresAt = GoTime.Local(DateTimeOffset.Now.AddMinutes(5));
        return JsonOutput.WriteAsync(ctx.Response, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("models"u8);
            foreach (var m in models)
            {
                json.WriteStartObject();
                json.WriteString("name"u8, m.Name);
                json.WriteString("model"u8, m.Name);
                json.WriteNumber("size"u8, m.Size);
                json.WriteString("digest"u8, m.Digest);
                ModelJson.WriteDetails(json, m, null, null);
                json.WriteString("expires_at"u8, expiresAt);
                json.WriteNumber("size_vram"u8, m.Size);
                json.WriteNumber("context_length"u8, contextLength);
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    public static Task ShowAsync(HttpContext ctx)
    {
        var state = SimState.Of(ctx);
        var knobs = state.Knobs.Current;
        string model;
        using (var body = JsonBody.Parse(Recording.SimRequest.Of(ctx).Body, "api.ShowRequest"))
        {
            var root = body.RootElement;
            model = JsonFields.String(root, "model", "ShowRequest.model") is { Length: > 0 } m ? m
                : JsonFields.String(root, "name", "ShowRequest.name") ?? "";
        }
        if (!ModelName.IsValid(model)) throw new ApiException(400, "model is required");
        var entry = state.Models.Find(model) ?? throw new ApiException(404, $"model '{model}' not found");

        return JsonOutput.WriteAsync(ctx.Response, StatusCodes.Status200OK, json =>
        {
            var template = ModelJson.Template(entry);
            json.WriteStartObject();
            json.WriteString("modelfile"u8, ModelJson.Modelfile(entry));
            json.WriteString("parameters"u8, ModelJson.Parameters(entry));
            if (template.Length > 0) json.WriteString("template"u8, template);
            ModelJson.WriteDetails(json, entry, null, null);
            // Always an object: clients read "<architecture>.context_length" from here.
            json.WriteStartObject("model_info"u8);
            json.WriteString("general.architecture"u8, entry.Family);
            json.WriteNumber("general.file_type"u8, entry.IsEmbedding ? 1 : 15);
            json.WriteNumber("general.parameter_count"u8, entry.ParameterCount);
            json.WriteNumber(entry.Family + ".context_length", knobs.ContextLength);
            json.WriteNumber(entry.Family + ".embedding_length", ModelJson.EmbeddingLength(entry, knobs.EmbeddingDims));
            json.WriteEndObject();
            ModelJson.WriteCapabilities(json, entry);
            json.WriteString("modified_at"u8, GoTime.Local(entry.ModifiedAt));
            json.WriteEndObject();
        });
    }
}
