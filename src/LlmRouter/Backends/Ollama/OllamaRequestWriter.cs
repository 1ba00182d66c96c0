using System.Buffers;
using System.Text.Json;
using LlmRouter.Errors;
using LlmRouter.OpenAi;

namespace LlmRouter.Backends.Ollama;

/// <summary>
/// Translates an OpenAI request into Ollama's native body (wire reference §7.2.3), validating as it goes
/// so bad input is a 400 before any backend is touched.
/// </summary>
internal static class OllamaRequestWriter
{
    private const int ModelPlaceholderLength = 11; // {"model":""

    public static PreparedRequest Prepare(ClientRequest request, JsonElement root)
    {
        using var scratch = ScratchJson.Rent();
        var writer = scratch.Writer;
        writer.WriteStartObject();
        writer.WriteString("model", "");
        switch (request.Operation)
        {
            case Operation.Chat:
                OllamaMessageWriter.WriteMessages(writer, root);
                // Ollama has no tool_choice. "none" is a promise that no tool is called, kept by not offering the tools;
                // the other choices ("auto", "required", one named function) go as the tools alone.
                if (Fields.Array(root, "tools") is { } tools && tools.GetArrayLength() > 0
                    && !(root.TryGetProperty("tool_choice", out var choice) && choice.ValueKind == JsonValueKind.String && choice.ValueEquals("none")))
                {
                    writer.WritePropertyName("tools");
                    tools.WriteTo(writer);
                }
                WriteFormat(writer, root);
                WriteThink(writer, root);
                WriteLogprobs(writer, root);
                break;
            case Operation.Completion:
                writer.WriteString("prompt", CompletionPrompt(root));
                if (Fields.String(root, "suffix") is { } suffix) writer.WriteString("suffix", suffix);
                WriteFormat(writer, root);
                break;
            case Operation.Embedding:
                WriteEmbeddingInput(writer, root);
                if (Fields.Integer(root, "dimensions", min: 1) is { } dimensions) writer.WriteNumber("dimensions", dimensions);
                break;
        }
        if (request.Operation != Operation.Embedding)
        {
            WriteOptions(writer, root, request.MaxTokens);
            // Streamed from Ollama even when the client wants one JSON body: the first token then shows when generation
            // has started (a whole answer would arrive only at its end), and the router assembles the body (WholeAnswer).
            writer.WriteBoolean("stream", true);
        }
        if (Fields.TryGet(root, "keep_alive", out var keepAlive))
        {
            writer.WritePropertyName("keep_alive");
            keepAlive.WriteTo(writer);
        }
        writer.WriteEndObject();
        return new PreparedRequest(request.Operation, scratch.Written[ModelPlaceholderLength..].ToArray());
    }

    private static void WriteOptions(Utf8JsonWriter writer, JsonElement root, long? maxTokens)
    {
        writer.WriteStartObject("options");
        if (maxTokens is { } limit) writer.WriteNumber("num_predict", limit);
        foreach (var name in (ReadOnlySpan<string>)["temperature", "top_p", "presence_penalty", "frequency_penalty", "min_p", "repeat_penalty"])
        {
            if (Fields.Number(root, name) is { } value) writer.WriteNumber(name, value);
        }
        foreach (var name in (ReadOnlySpan<string>)["seed", "top_k", "num_ctx"])
        {
            if (Fields.Integer(root, name) is { } value) writer.WriteNumber(name, value);
        }
        if (Fields.TryGet(root, "stop", out var stop))
        {
            writer.WriteStartArray("stop");
            if (stop.ValueKind == JsonValueKind.String)
            {
                writer.WriteStringValue(stop.GetString());
            }
            else if (stop.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in stop.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.String) throw Fields.WrongType("stop", "a string or an array of strings", item);
                    writer.WriteStringValue(item.GetString());
                }
            }
            else
            {
                throw Fields.WrongType("stop", "a string or an array of strings", stop);
            }
            writer.WriteEndArray();
        }
        writer.WriteEndObject();
    }

    private static void WriteFormat(Utf8JsonWriter writer, JsonElement root)
    {
        if (Fields.Object(root, "response_format") is not { } format) return;
        switch (Fields.String(format, "type", "response_format.type"))
        {
            case "json_object":
                writer.WriteString("format", "json");
                break;
            case "json_schema":
                var schema = Fields.Object(format, "json_schema", "response_format.json_schema") is { } js
                    ? Fields.Object(js, "schema", "response_format.json_schema.schema")
                    : null;
                if (schema is null) throw Fields.Missing("response_format.json_schema.schema");
                writer.WritePropertyName("format");
                schema.Value.WriteTo(writer);
                break;
            case "text" or null:
                break;
            case var other:
                throw new ApiErrorException(ApiError.InvalidRequest(
                    $"Invalid value for 'response_format.type': '{other}'. Supported: 'text', 'json_object', 'json_schema'.", "response_format.type"));
        }
    }

    /// <summary>OpenAI's reasoning effort becomes Ollama's <c>think</c> (§2.1 table).</summary>
    private static void WriteThink(Utf8JsonWriter writer, JsonElement root)
    {
        var effort = Fields.String(root, "reasoning_effort");
        if (effort is null && Fields.Object(root, "reasoning") is { } reasoning) effort = Fields.String(reasoning, "effort", "reasoning.effort");
        switch (effort)
        {
            case null:
                WriteOllamaThink(writer, root);
                return;
            case "none":
                writer.WriteBoolean("think", false);
                return;
            case "minimal":
                writer.WriteString("think", "low");
                return;
            case "low" or "medium" or "high" or "max":
                writer.WriteString("think", effort);
                return;
            case "xhigh" or "ultra":
                writer.WriteString("think", "max");
                return;
            default:
                throw new ApiErrorException(ApiError.InvalidRequest(
                    $"Invalid value for 'reasoning_effort': '{effort}'. Supported: none, minimal, low, medium, high, xhigh, max.", "reasoning_effort"));
        }
    }

    /// <summary><c>logprobs</c> and <c>top_logprobs</c> (0-20, Ollama's range; OpenAI's asks for <c>logprobs</c> with it).</summary>
    private static void WriteLogprobs(Utf8JsonWriter writer, JsonElement root)
    {
        var logprobs = Fields.Bool(root, "logprobs") ?? false;
        var top = Fields.Integer(root, "top_logprobs", min: 0);
        if (top > 20) throw new ApiErrorException(ApiError.InvalidRequest("'top_logprobs' must be between 0 and 20.", "top_logprobs"));
        if (top > 0 && !logprobs)
            throw new ApiErrorException(ApiError.InvalidRequest("'top_logprobs' needs 'logprobs': true.", "top_logprobs"));
        if (!logprobs) return;
        writer.WriteBoolean("logprobs", true);
        if (top is { } count) writer.WriteNumber("top_logprobs", count);
    }

    /// <summary>Ollama's own <c>think</c> at the top level (as its native API takes it), when no reasoning effort is given.</summary>
    private static void WriteOllamaThink(Utf8JsonWriter writer, JsonElement root)
    {
        if (!Fields.TryGet(root, "think", out var think)) return;
        if (think.ValueKind is JsonValueKind.True or JsonValueKind.False
            || (think.ValueKind == JsonValueKind.String && think.GetString() is "low" or "medium" or "high" or "max"))
        {
            writer.WritePropertyName("think");
            think.WriteTo(writer);
            return;
        }
        throw new ApiErrorException(ApiError.InvalidRequest("Invalid value for 'think': must be true, false, \"low\", \"medium\", \"high\" or \"max\".", "think"));
    }

    private static string CompletionPrompt(JsonElement root)
    {
        var prompt = root.GetProperty("prompt");
        if (prompt.ValueKind == JsonValueKind.String) return prompt.GetString()!;
        if (prompt.ValueKind == JsonValueKind.Array && prompt.GetArrayLength() == 1 && prompt[0].ValueKind == JsonValueKind.String)
            return prompt[0].GetString()!;
        throw new ApiErrorException(ApiError.InvalidRequest("'prompt' must be a string (or an array holding one string).", "prompt"));
    }

    private static void WriteEmbeddingInput(Utf8JsonWriter writer, JsonElement root)
    {
        var input = root.GetProperty("input");
        if (Fields.String(root, "encoding_format") is { } encoding && encoding is not ("float" or "base64"))
            throw new ApiErrorException(ApiError.InvalidRequest(
                $"Invalid value for 'encoding_format': '{encoding}'. Supported values: 'float', 'base64'.", "encoding_format"));
        writer.WriteStartArray("input");
        if (input.ValueKind == JsonValueKind.String)
        {
            writer.WriteStringValue(input.GetString());
        }
        else if (input.ValueKind == JsonValueKind.Array && input.GetArrayLength() > 0)
        {
            foreach (var item in input.EnumerateArray())
            {
                if (item.ValueKind != JsonValueKind.String)
                    throw new ApiErrorException(ApiError.InvalidRequest("'input' must be a string or an array of strings; token arrays are not supported.", "input"));
                writer.WriteStringValue(item.GetString());
            }
        }
        else
        {
            throw new ApiErrorException(ApiError.InvalidRequest("'input' must be a non-empty string or array of strings.", "input"));
        }
        writer.WriteEndArray();
    }
}
