using System.Buffers;
using System.Buffers.Text;
using System.Text.Json;
using LlmRouter.Backends;
using LlmRouter.Errors;

namespace LlmRouter.OpenAi;

/// <summary>
/// Writes one OpenAI answer, streamed as SSE frames or as one JSON body, from provider-neutral chunks.
/// Every frame of a response shares one unique id, one <c>created</c> and the model name the client asked for.
/// Frames are built from raw bytes straight into the response pipe: the per-token path allocates nothing.
/// </summary>
internal abstract class AnswerWriter(string model, bool stream, bool includeUsage, long created)
{
    protected static readonly JsonWriterOptions JsonOptions = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly byte[] DataPrefix = "data: "u8.ToArray();
    private static readonly byte[] FrameEnd = "\n\n"u8.ToArray();
    private static readonly byte[] Done = "data: [DONE]\n\n"u8.ToArray();

    private byte[]? _header;
    protected bool Stream { get; } = stream;
    protected bool SawToolCalls { get; set; }

    /// <summary>Adds a chunk's text or tool calls: as a frame when streaming, to the body otherwise.</summary>
    public void WriteDelta(IBufferWriter<byte> output, GenerationChunk chunk)
    {
        if (Stream) WriteDeltaFrame(output, chunk);
        else Add(chunk);
    }

    /// <summary>Adds a chunk's text or tool calls to a non-streamed answer's body.</summary>
    public abstract void Add(GenerationChunk chunk);

    protected abstract void WriteDeltaFrame(IBufferWriter<byte> output, GenerationChunk chunk);

    /// <summary>Finishes the answer: final frame, usage and <c>[DONE]</c>, or the whole JSON body.</summary>
    public void WriteEnd(IBufferWriter<byte> output, GenerationChunk final)
    {
        var finish = final.DoneReason == "length" ? "length" : SawToolCalls ? "tool_calls" : "stop";
        if (Stream)
        {
            WriteFinishFrame(output, finish);
            if (includeUsage) WriteUsageFrame(output, final);
            output.Write(Done);
        }
        else
        {
            WriteWhole(output, finish, final);
        }
    }

    /// <summary>A mid-stream failure: one <c>data: {"error":…}</c> frame and no <c>[DONE]</c>, never a fake clean end.</summary>
    public static void WriteErrorFrame(IBufferWriter<byte> output, ApiError error)
    {
        output.Write(DataPrefix);
        using (var writer = new Utf8JsonWriter(output, JsonOptions)) error.WriteTo(writer);
        output.Write(FrameEnd);
    }

    protected abstract string ObjectName { get; }
    protected abstract string IdPrefix { get; }
    protected abstract void WriteFinishFrame(IBufferWriter<byte> output, string finishReason);
    protected abstract void WriteWhole(IBufferWriter<byte> output, string finishReason, GenerationChunk final);

    /// <summary>
    /// Starts an SSE frame with <c>data: {"id":…,"object":…,"created":…,"model":…,</c> (the same bytes for every frame) in a
    /// buffer of this answer's, reused for every frame: the response gets each frame in one write, not a dozen small ones.
    /// </summary>
    protected IBufferWriter<byte> BeginFrame()
    {
        _header ??= BuildHeader(ObjectName);
        var frame = _frame ??= new ArrayBufferWriter<byte>(512);
        frame.ResetWrittenCount();
        frame.Write(DataPrefix);
        frame.Write(_header);
        return frame;
    }

    protected void EndFrame(IBufferWriter<byte> output)
    {
        var frame = _frame ?? throw new InvalidOperationException("EndFrame without BeginFrame");
        frame.Write(FrameEnd);
        output.Write(frame.WrittenSpan);
    }

    private ArrayBufferWriter<byte>? _frame;

    private byte[] BuildHeader(string objectName)
    {
        using var scratch = HeaderJson(objectName);
        return [.. scratch.Written[..^1], (byte)','];
    }

    /// <summary>The header straight into the output, for the one body of a non-streamed answer.</summary>
    protected void WriteHeader(IBufferWriter<byte> output, string objectName)
    {
        using var scratch = HeaderJson(objectName);
        output.Write(scratch.Written[..^1]);
        output.Write(","u8);
    }

    /// <summary>The header as a whole object; callers drop its closing brace and leave a comma, so each frame appends its own fields.</summary>
    private ScratchJson HeaderJson(string objectName)
    {
        var scratch = ScratchJson.Rent();
        var writer = scratch.Writer;
        writer.WriteStartObject();
        writer.WriteString("id", Id);
        writer.WriteString("object", objectName);
        writer.WriteNumber("created", created);
        writer.WriteString("model", model);
        writer.WriteEndObject();
        return scratch;
    }

    private string? _id;
    public string Id => _id ??= IdPrefix + Hosting.Ids.NewHex();

    private void WriteUsageFrame(IBufferWriter<byte> output, GenerationChunk final)
    {
        var frame = BeginFrame();
        frame.Write("\"choices\":[],"u8);
        WriteUsage(frame, final);
        frame.Write("}"u8);
        EndFrame(output);
    }

    protected static void WriteUsage(IBufferWriter<byte> output, GenerationChunk final)
    {
        output.Write("\"usage\":{\"prompt_tokens\":"u8);
        WriteInt(output, final.PromptTokens);
        output.Write(",\"completion_tokens\":"u8);
        WriteInt(output, final.CompletionTokens);
        output.Write(",\"total_tokens\":"u8);
        WriteInt(output, final.PromptTokens + final.CompletionTokens);
        output.Write("}"u8);
    }

    protected static void WriteInt(IBufferWriter<byte> output, long value)
    {
        var span = output.GetSpan(20);
        Utf8Formatter.TryFormat(value, span, out var written);
        output.Advance(written);
    }

    protected static void WriteQuoted(IBufferWriter<byte> output, ReadOnlySpan<byte> escapedJsonText)
    {
        output.Write("\""u8);
        output.Write(escapedJsonText);
        output.Write("\""u8);
    }

    protected static void WriteFinishReason(IBufferWriter<byte> output, string finishReason)
    {
        output.Write(finishReason switch
        {
            "length" => "\"length\""u8,
            "tool_calls" => "\"tool_calls\""u8,
            _ => "\"stop\""u8,
        });
    }
}
