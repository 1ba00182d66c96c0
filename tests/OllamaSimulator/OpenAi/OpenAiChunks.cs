using System.Text.Json;
using OllamaSimulator.Generation;

namespace OllamaSimulator.OpenAi;

/// <summary>Pieces shared by the streamed and whole OpenAI answers (Ollama ≥ 0.32.6 wire format).</summary>
internal static class OpenAiChunks
{
    /// <summary>Ollama's ids are <c>chatcmpl-</c> + 0..998: deliberately not unique, as the real server's are not.</summary>
    public static string NewId() => "chatcmpl-" + Random.Shared.Next(999);

    public static void WriteHead(Utf8JsonWriter json, string id, string objectType, long created, string model)
    {
        json.WriteStartObject();
        json.WriteString("id"u8, id);
        json.WriteString("object"u8, objectType);
        json.WriteNumber("created"u8, created);
        json.WriteString("model"u8, model);
        json.WriteString("system_fingerprint"u8, "fp_ollama"u8);
    }

    public static void WriteToolCalls(Utf8JsonWriter json, ToolCallPlan call)
    {
        json.WriteStartArray("tool_calls"u8);
        json.WriteStartObject();
        json.WriteString("id"u8, call.Id);
        json.WriteNumber("index"u8, 0);
        json.WriteString("type"u8, "function"u8);
        json.WriteStartObject("function"u8);
        json.WriteString("name"u8, call.Name);
        json.WriteString("arguments"u8, call.ArgumentsJson());
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndArray();
    }

    public static void WriteUsage(Utf8JsonWriter json, AnswerMetrics metrics)
    {
        json.WriteStartObject("usage"u8);
        json.WriteNumber("prompt_tokens"u8, metrics.PromptEvalCount);
        json.WriteNumber("completion_tokens"u8, metrics.EvalCount);
        json.WriteNumber("total_tokens"u8, metrics.PromptEvalCount + metrics.EvalCount);
        json.WriteEndObject();
    }

    /// <summary>Native <c>done_reason</c> → <c>finish_reason</c>: "stop" becomes "tool_calls" when a call was made.</summary>
    public static string FinishReason(string doneReason, bool madeToolCall) =>
        doneReason == "stop" && madeToolCall ? "tool_calls" : doneReason;
}
