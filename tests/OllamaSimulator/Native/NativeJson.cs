using System.Text.Json;
using OllamaSimulator.Generation;
using OllamaSimulator.Http;

namespace OllamaSimulator.Native;

/// <summary>Pieces shared by the native chat/generate objects, in Go's field order.</summary>
internal static class NativeJson
{
    /// <summary>Opens the object and writes <c>model</c> and <c>created_at</c> (UTC, trimmed fraction).</summary>
    public static void WriteHead(Utf8JsonWriter json, string model)
    {
        Span<byte> createdAt = stackalloc byte[40];
        var n = GoTime.FormatUtcNow(createdAt);
        json.WriteStartObject();
        json.WriteString("model"u8, model);
        json.WriteString("created_at"u8, createdAt[..n]);
    }

    public static void WriteToolCalls(Utf8JsonWriter json, ToolCallPlan call)
    {
        json.WriteStartArray("tool_calls"u8);
        json.WriteStartObject();
        json.WriteString("id"u8, call.Id);
        json.WriteStartObject("function"u8);
        json.WriteNumber("index"u8, 0);
        json.WriteString("name"u8, call.Name);
        json.WritePropertyName("arguments"u8);
        call.WriteArguments(json);
        json.WriteEndObject();
        json.WriteEndObject();
        json.WriteEndArray();
    }

    /// <summary>
    /// <c>logprobs</c> for tokens <paramref name="from"/> up to <paramref name="to"/> (exclusive), in Ollama's shape
    /// (<c>token, logprob, bytes, top_logprobs</c>): made-up but fixed values, the first of the top ones the token itself.
    /// </summary>
    public static void WriteLogprobs(Utf8JsonWriter json, int from, int to, int top)
    {
        json.WriteStartArray("logprobs"u8);
        for (var i = from; i < to; i++)
        {
            json.WriteStartObject();
            WriteTokenLogprob(json, TokenText.Word(i), Logprob(i, 0));
            json.WriteStartArray("top_logprobs"u8);
            for (var rank = 0; rank < top; rank++)
            {
                json.WriteStartObject();
                WriteTokenLogprob(json, rank == 0 ? TokenText.Word(i) : TokenText.Word(i + rank), Logprob(i, rank));
                json.WriteEndObject();
            }
            json.WriteEndArray();
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static double Logprob(int index, int rank) => -0.125 * (1 + index % 4) - rank;

    private static void WriteTokenLogprob(Utf8JsonWriter json, string token, double logprob)
    {
        json.WriteString("token"u8, token);
        json.WriteNumber("logprob"u8, logprob);
        json.WriteStartArray("bytes"u8);
        foreach (var b in System.Text.Encoding.UTF8.GetBytes(token)) json.WriteNumberValue(b);
        json.WriteEndArray();
    }

    /// <summary>Generate's <c>context</c>: made-up token ids, one per prompt and answer token.</summary>
    public static void WriteContext(Utf8JsonWriter json, int tokens)
    {
        json.WriteStartArray("context"u8);
        for (var i = 1; i <= tokens; i++) json.WriteNumberValue(i);
        json.WriteEndArray();
    }

    /// <summary>The single object Ollama returns for a load or unload request (no generation, no metrics).</summary>
    public static Task WriteLoadAsync(HttpContext ctx, string model, bool chat, string doneReason) =>
        JsonOutput.WriteAsync(ctx.Response, StatusCodes.Status200OK, (model, chat, doneReason), static (json, s) =>
        {
            WriteHead(json, s.model);
            if (s.chat)
            {
                json.WriteStartObject("message"u8);
                json.WriteString("role"u8, "assistant"u8);
                json.WriteString("content"u8, ""u8);
                json.WriteEndObject();
            }
            else
            {
                json.WriteString("response"u8, ""u8);
            }
            json.WriteBoolean("done"u8, true);
            json.WriteString("done_reason"u8, s.doneReason);
            json.WriteEndObject();
        });
}
