using System.Text.Json;
using OllamaSimulator.Generation;
using OllamaSimulator.Http;
using OllamaSimulator.Models;

namespace OllamaSimulator.Native;

/// <summary>Validates a <c>/api/generate</c> body in the order Ollama's GenerateHandler does and reduces it to a job.</summary>
internal static class GenerateRequestReader
{
    public static GenerationJob Read(JsonElement root, SimState state)
    {
        var model = JsonFields.String(root, "model", "GenerateRequest.model") ?? "";
        var prompt = JsonFields.String(root, "prompt", "GenerateRequest.prompt") ?? "";
        var suffix = JsonFields.String(root, "suffix", "GenerateRequest.suffix") ?? "";
        var system = JsonFields.String(root, "system", "GenerateRequest.system") ?? "";
        var template = JsonFields.String(root, "template", "GenerateRequest.template") ?? "";
        var context = JsonFields.Array(root, "context", "GenerateRequest.context");
        var raw = JsonFields.Bool(root, "raw", "GenerateRequest.raw") ?? false;
        var stream = JsonFields.Bool(root, "stream", "GenerateRequest.stream") ?? true;
        NativeFields.CheckImages(root, "GenerateRequest.images");
        var topLogprobs = NativeFields.TopLogprobs(root, "GenerateRequest");
        if (!ModelName.IsValid(model)) throw new ApiException(400, "model is required");
        if (raw && (template.Length > 0 || system.Length > 0 || context is { } c && c.GetArrayLength() > 0))
        {
            throw new ApiException(400, "raw mode does not support template, system, or context");
        }
        var think = NativeFields.Think(root);
        var keepAliveZero = KeepAlive.IsZero(root);
        var numPredict = NativeFields.NumPredict(root, "GenerateRequest");

        var entry = state.Models.Find(model) ?? throw new ApiException(404, $"model '{model}' not found");
        if (prompt.Length == 0 && keepAliveZero)
        {
            return new GenerationJob(model, entry, stream, numPredict, 1, null, LoadOnly: true, UnloadAfter: true);
        }
        if (!entry.Can("completion")) throw new ApiException(400, $"\"{model}\" does not support generate");
        if (suffix.Length > 0 && !entry.Can("insert")) throw new ApiException(400, $"{ModelName.Canonical(model)} does not support insert");
        if (think && !entry.Can("thinking")) throw new ApiException(400, $"\"{model}\" does not support thinking");

        return new GenerationJob(model, entry, stream, numPredict, GenerationJob.PromptTokens(prompt.Length), null, prompt.Length == 0, keepAliveZero)
        {
            TopLogprobs = topLogprobs,
        };
    }
}
