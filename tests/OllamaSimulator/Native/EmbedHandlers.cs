using System.Diagnostics;
using System.Text.Json;
using OllamaSimulator.Generation;
using OllamaSimulator.Http;
using OllamaSimulator.Knobs;
using OllamaSimulator.Models;
using OllamaSimulator.Recording;

namespace OllamaSimulator.Native;

/// <summary>
/// <c>POST /api/embed</c> and the legacy <c>POST /api/embeddings</c>. They queue, hold, load and fault like chat;
/// <c>firstTokenDelayMs</c> stands for the compute time. Being never streamed, a "-mid" fault strikes where the
/// answer would be written.
/// </summary>
internal static class EmbedHandlers
{
    public static async Task EmbedAsync(HttpContext ctx)
    {
        var (state, request) = (SimState.Of(ctx), SimRequest.Of(ctx));
        string model;
        List<string> inputs;
        int? dimensions;
        using (var body = JsonBody.Parse(request.Body, "api.EmbedRequest"))
        {
            var root = body.RootElement;
            model = JsonFields.String(root, "model", "EmbedRequest.model") ?? "";
            dimensions = JsonFields.Int(root, "dimensions", "EmbedRequest.dimensions");
            inputs = ReadInputs(root);
        }
        var entry = Find(state, model);

        using var admission = await AdmitAndComputeAsync(ctx, state, request, entry);
        if (admission is null) return;

        var dims = dimensions is > 0 && dimensions < admission.Knobs.EmbeddingDims ? dimensions.Value : admission.Knobs.EmbeddingDims;
        var end = Stopwatch.GetTimestamp();
        var promptTokens = inputs.Sum(i => GenerationJob.PromptTokens(i.Length));
        state.Log.Finish(request.Record, Outcome.Completed, StatusCodes.Status200OK);
        await JsonOutput.WriteAsync(ctx.Response, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteString("model"u8, model);
            json.WriteStartArray("embeddings"u8);
            foreach (var input in inputs)
            {
                json.WriteStartArray();
                foreach (var v in EmbeddingVectors.For(input, dims)) json.WriteNumberValue(v);
                json.WriteEndArray();
            }
            json.WriteEndArray();
            // An empty input only loads the model: Ollama then sends no metrics.
            if (inputs.Count > 0)
            {
                json.WriteNumber("total_duration"u8, AnswerMetrics.Ns(request.StartTimestamp, end));
                json.WriteNumber("load_duration"u8, AnswerMetrics.Ns(request.StartTimestamp, admission.LoadedAt));
                json.WriteNumber("prompt_eval_count"u8, promptTokens);
            }
            json.WriteEndObject();
        });
    }

    public static async Task EmbeddingsAsync(HttpContext ctx)
    {
        var (state, request) = (SimState.Of(ctx), SimRequest.Of(ctx));
        string model, prompt;
        using (var body = JsonBody.Parse(request.Body, "api.EmbeddingRequest"))
        {
            model = JsonFields.String(body.RootElement, "model", "EmbeddingRequest.model") ?? "";
            prompt = JsonFields.String(body.RootElement, "prompt", "EmbeddingRequest.prompt") ?? "";
        }
        var entry = Find(state, model);

        using var admission = await AdmitAndComputeAsync(ctx, state, request, entry);
        if (admission is null) return;

        state.Log.Finish(request.Record, Outcome.Completed, StatusCodes.Status200OK);
        await JsonOutput.WriteAsync(ctx.Response, StatusCodes.Status200OK, json =>
        {
            json.WriteStartObject();
            json.WriteStartArray("embedding"u8);
            // The legacy endpoint answers float64s.
            if (prompt.Length > 0)
            {
                foreach (var v in EmbeddingVectors.For(prompt, admission.Knobs.EmbeddingDims)) json.WriteNumberValue((double)v);
            }
            json.WriteEndArray();
            json.WriteEndObject();
        });
    }

    private static ModelEntry Find(SimState state, string model)
    {
        if (!ModelName.IsValid(model)) throw new ApiException(400, "model is required");
        return state.Models.Find(model) ?? throw new ApiException(404, $"model \"{model}\" not found, try pulling it first");
    }

    /// <summary>Admission, then the pending fault or the compute delay. Null when the request was already answered.</summary>
    private static async Task<Admission?> AdmitAndComputeAsync(HttpContext ctx, SimState state, SimRequest request, ModelEntry entry)
    {
        var admission = await GenerationGate.AdmitAsync(ctx, state, request, entry);
        if (admission is null) return null;
        try
        {
            if (admission.Fault != FaultMode.None)
            {
                await Faults.StrikeAsync(ctx, state, request.Record, admission.Fault, admission.Knobs, writer: null);
                admission.Dispose();
                return null;
            }
            if (admission.Knobs.FirstTokenDelayMs > 0) await Task.Delay(admission.Knobs.FirstTokenDelayMs, ctx.RequestAborted);
            return admission;
        }
        catch
        {
            admission.Dispose();
            throw;
        }
    }

    private static List<string> ReadInputs(JsonElement root)
    {
        var inputs = new List<string>();
        switch (JsonFields.Get(root, "input"))
        {
            case null:
                break;
            case { ValueKind: JsonValueKind.String } s:
                if (s.GetString() is { Length: > 0 } text) inputs.Add(text);
                break;
            case { ValueKind: JsonValueKind.Array } list:
                foreach (var item in list.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String) throw new ApiException(400, "invalid input type");
                    inputs.Add(item.GetString()!);
                }
                break;
            default:
                throw new ApiException(400, "invalid input type");
        }
        return inputs;
    }
}
