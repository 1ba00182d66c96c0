using System.Buffers;
using System.Text.Json;
using LlmRouter.Backends;

namespace LlmRouter.OpenAi;

/// <summary><c>chat.completion</c> / <c>chat.completion.chunk</c> per wire reference §7.2.4–5.</summary>
internal sealed class ChatAnswerWriter(string model, bool stream, bool includeUsage, long created)
    : AnswerWriter(model, stream, includeUsage, created)
{
    private bool _roleSent;
    private int _toolIndex;
    private ArrayBufferWriter<byte>? _content;
    private ArrayBufferWriter<byte>? _reasoning;
    private bool _finalHoldsText;
    private List<(int Index, ToolCall Call)>? _toolCalls;
    /// <summary>The elements of every line's logprobs array, comma-joined; null until a line has some.</summary>
    private ArrayBufferWriter<byte>? _logprobs;

    protected override string ObjectName => Stream ? "chat.completion.chunk" : "chat.completion";
    protected override string IdPrefix => "chatcmpl-";

    protected override void WriteDeltaFrame(IBufferWriter<byte> output, GenerationChunk chunk)
    {
        var frame = BeginFrame();
        frame.Write("\"choices\":[{\"index\":0,\"delta\":{"u8);
        var comma = false;
        if (!_roleSent)
        {
            frame.Write("\"role\":\"assistant\""u8);
            _roleSent = true;
            comma = true;
        }
        if (chunk.ReasoningJson.WrittenCount > 0)
        {
            if (comma) frame.Write(","u8);
            frame.Write("\"reasoning_content\":"u8);
            WriteQuoted(frame, chunk.ReasoningJson.WrittenSpan);
            comma = true;
        }
        if (chunk.ContentJson.WrittenCount > 0 || chunk.ToolCalls.Count == 0)
        {
            if (comma) frame.Write(","u8);
            frame.Write("\"content\":"u8);
            WriteQuoted(frame, chunk.ContentJson.WrittenSpan);
            comma = true;
        }
        if (chunk.ToolCalls.Count > 0)
        {
            if (comma) frame.Write(","u8);
            frame.Write("\"tool_calls\":"u8);
            using (var writer = new Utf8JsonWriter(frame, JsonOptions))
            {
                writer.WriteStartArray();
                foreach (var call in chunk.ToolCalls) WriteToolCall(writer, _toolIndex++, call);
                writer.WriteEndArray();
            }
            SawToolCalls = true;
        }
        frame.Write("},\"logprobs\":"u8);
        WriteLogprobs(frame, chunk.HasLogprobs ? chunk.LogprobsJson.WrittenSpan[1..^1] : default, chunk.HasLogprobs);
        frame.Write(",\"finish_reason\":null}]}"u8);
        EndFrame(output);
    }

    /// <summary><c>{"content":[…]}</c> around the elements of Ollama's logprobs arrays, or <c>null</c>.</summary>
    private static void WriteLogprobs(IBufferWriter<byte> output, ReadOnlySpan<byte> elements, bool any)
    {
        if (!any)
        {
            output.Write("null"u8);
            return;
        }
        output.Write("{\"content\":["u8);
        output.Write(elements);
        output.Write("]}"u8);
    }

    protected override void WriteFinishFrame(IBufferWriter<byte> output, string finishReason)
    {
        // An empty answer still opens with the role, as OpenAI's streams do.
        if (!_roleSent)
        {
            var opening = BeginFrame();
            opening.Write("\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"logprobs\":null,\"finish_reason\":null}]}"u8);
            EndFrame(output);
            _roleSent = true;
        }
        var frame = BeginFrame();
        frame.Write("\"choices\":[{\"index\":0,\"delta\":{},\"logprobs\":null,\"finish_reason\":"u8);
        WriteFinishReason(frame, finishReason);
        frame.Write("}]}"u8);
        EndFrame(output);
    }

    protected override void WriteWhole(IBufferWriter<byte> output, string finishReason, GenerationChunk final)
    {
        WriteHeader(output, ObjectName);
        output.Write("\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":"u8);
        var content = _content is not null ? _content.WrittenSpan : _finalHoldsText ? final.ContentJson.WrittenSpan : default;
        var reasoning = _reasoning is not null ? _reasoning.WrittenSpan : _finalHoldsText ? final.ReasoningJson.WrittenSpan : default;
        WriteQuoted(output, content);
        if (reasoning.Length > 0)
        {
            output.Write(",\"reasoning_content\":"u8);
            WriteQuoted(output, reasoning);
        }
        if (_toolCalls is { Count: > 0 })
        {
            output.Write(",\"tool_calls\":"u8);
            using var writer = new Utf8JsonWriter(output, JsonOptions);
            writer.WriteStartArray();
            foreach (var (index, call) in _toolCalls) WriteToolCall(writer, index, call);
            writer.WriteEndArray();
        }
        output.Write("},\"logprobs\":"u8);
        WriteLogprobs(output, _logprobs is not null ? _logprobs.WrittenSpan : default, _logprobs is not null);
        output.Write(",\"finish_reason\":"u8);
        WriteFinishReason(output, finishReason);
        output.Write("}],"u8);
        WriteUsage(output, final);
        output.Write("}"u8);
    }

    public override void Add(GenerationChunk chunk)
    {
        // An answer that is one final line holding all the text (a backend asked not to stream) is written from that line, not copied first.
        if (chunk.Done && _content is null && _reasoning is null)
        {
            _finalHoldsText = true;
        }
        else
        {
            if (chunk.ContentJson.WrittenCount > 0) (_content ??= new ArrayBufferWriter<byte>(1024)).Write(chunk.ContentJson.WrittenSpan);
            if (chunk.ReasoningJson.WrittenCount > 0) (_reasoning ??= new ArrayBufferWriter<byte>(256)).Write(chunk.ReasoningJson.WrittenSpan);
        }
        foreach (var call in chunk.ToolCalls)
        {
            (_toolCalls ??= []).Add((_toolIndex++, call));
            SawToolCalls = true;
        }
        if (chunk.HasLogprobs)
        {
            var elements = chunk.LogprobsJson.WrittenSpan[1..^1].Trim(" \t\r\n"u8);
            if (elements.Length > 0)
            {
                if (_logprobs is { WrittenCount: > 0 }) _logprobs.Write(","u8);
                (_logprobs ??= new ArrayBufferWriter<byte>(1024)).Write(elements);
            }
        }
    }

    /// <summary>The whole call in one fragment: <c>id, index, type, function{name, arguments}</c>, arguments as a JSON string.</summary>
    private static void WriteToolCall(Utf8JsonWriter writer, int index, ToolCall call)
    {
        writer.WriteStartObject();
        writer.WriteString("id", call.Id ?? "call_" + Hosting.Ids.NewHex()[..24]);
        writer.WriteNumber("index", index);
        writer.WriteString("type", "function");
        writer.WriteStartObject("function");
        writer.WriteString("name", call.Name);
        writer.WriteString("arguments", call.ArgumentsJson);
        writer.WriteEndObject();
        writer.WriteEndObject();
    }
}
