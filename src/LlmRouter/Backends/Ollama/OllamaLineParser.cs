using System.Buffers;
using System.Text.Json;

namespace LlmRouter.Backends.Ollama;

/// <summary>
/// Reads one native <c>/api/chat</c> or <c>/api/generate</c> JSON line into a <see cref="GenerationChunk"/>
/// with a forward-only reader: no document, no string per token.
/// </summary>
internal static class OllamaLineParser
{
    public static void Parse(in ReadOnlySequence<byte> line, GenerationChunk chunk)
    {
        chunk.Reset();
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { MaxDepth = 64 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject) throw new JsonException("expected a JSON object per line");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("message"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartObject) ReadMessage(ref reader, chunk);
                else reader.Skip();
            }
            else if (reader.ValueTextEquals("response"u8)) ReadText(ref reader, chunk.ContentJson);
            else if (reader.ValueTextEquals("thinking"u8)) ReadText(ref reader, chunk.ReasoningJson);
            else if (reader.ValueTextEquals("done"u8))
            {
                reader.Read();
                chunk.Done = reader.TokenType == JsonTokenType.True;
            }
            else if (reader.ValueTextEquals("done_reason"u8))
            {
                reader.Read();
                chunk.DoneReason = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            }
            else if (reader.ValueTextEquals("logprobs"u8)) ReadRawArray(ref reader, line, chunk.LogprobsJson);
            else if (reader.ValueTextEquals("prompt_eval_count"u8)) chunk.PromptTokens = ReadInt(ref reader);
            else if (reader.ValueTextEquals("eval_count"u8)) chunk.CompletionTokens = ReadInt(ref reader);
            else if (reader.ValueTextEquals("error"u8))
            {
                reader.Read();
                chunk.Error = reader.TokenType == JsonTokenType.String ? reader.GetString() : "backend reported an error";
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray) reader.Skip();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    private static void ReadMessage(ref Utf8JsonReader reader, GenerationChunk chunk)
    {
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("content"u8)) ReadText(ref reader, chunk.ContentJson);
            else if (reader.ValueTextEquals("thinking"u8)) ReadText(ref reader, chunk.ReasoningJson);
            else if (reader.ValueTextEquals("tool_calls"u8))
            {
                reader.Read();
                if (reader.TokenType == JsonTokenType.StartArray) ReadToolCalls(ref reader, chunk.ToolCalls);
                else reader.Skip();
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
    }

    /// <summary>Copies a JSON string's escaped bytes as they are; they stay valid JSON string content.</summary>
    private static void ReadText(ref Utf8JsonReader reader, ArrayBufferWriter<byte> target)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.String)
        {
            reader.Skip();
            return;
        }
        if (reader.HasValueSequence)
        {
            foreach (var segment in reader.ValueSequence) target.Write(segment.Span);
        }
        else
        {
            target.Write(reader.ValueSpan);
        }
    }

    /// <summary>Copies an array's bytes as they are (Ollama's logprobs already have OpenAI's shape); anything else is skipped.</summary>
    private static void ReadRawArray(ref Utf8JsonReader reader, in ReadOnlySequence<byte> line, ArrayBufferWriter<byte> target)
    {
        reader.Read();
        if (reader.TokenType != JsonTokenType.StartArray)
        {
            reader.Skip();
            return;
        }
        var start = reader.TokenStartIndex;
        reader.Skip();
        foreach (var segment in line.Slice(start, reader.BytesConsumed - start)) target.Write(segment.Span);
    }

    private static int ReadInt(ref Utf8JsonReader reader)
    {
        reader.Read();
        return reader.TokenType == JsonTokenType.Number && reader.TryGetInt32(out var value) ? value : 0;
    }

    /// <summary>Tool calls are rare, so a small document per call is fine here.</summary>
    private static void ReadToolCalls(ref Utf8JsonReader reader, List<ToolCall> calls)
    {
        using var document = JsonDocument.ParseValue(ref reader);
        foreach (var call in document.RootElement.EnumerateArray())
        {
            if (call.ValueKind != JsonValueKind.Object || !call.TryGetProperty("function", out var function)) continue;
            var name = function.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "";
            var arguments = function.TryGetProperty("arguments", out var a)
                ? a.ValueKind == JsonValueKind.String ? a.GetString()! : a.GetRawText()
                : "{}";
            var id = call.TryGetProperty("id", out var i) && i.ValueKind == JsonValueKind.String ? i.GetString() : null;
            calls.Add(new ToolCall(id, name, arguments));
        }
    }
}
