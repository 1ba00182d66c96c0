using System.Buffers;
using LlmRouter.Backends;

namespace LlmRouter.OpenAi;

/// <summary>Legacy <c>text_completion</c> answers for <c>/v1/completions</c>.</summary>
internal sealed class CompletionAnswerWriter(string model, bool stream, bool includeUsage, long created)
    : AnswerWriter(model, stream, includeUsage, created)
{
    private ArrayBufferWriter<byte>? _text;
    private bool _finalHoldsText;

    protected override string ObjectName => "text_completion";
    protected override string IdPrefix => "cmpl-";

    public override void Add(GenerationChunk chunk)
    {
        if (chunk.ContentJson.WrittenCount == 0) return;
        // An answer that is one final line holding all the text (a backend asked not to stream) is written from that line, not copied first.
        if (chunk.Done && _text is null) _finalHoldsText = true;
        else (_text ??= new ArrayBufferWriter<byte>(1024)).Write(chunk.ContentJson.WrittenSpan);
    }

    protected override void WriteDeltaFrame(IBufferWriter<byte> output, GenerationChunk chunk)
    {
        if (chunk.ContentJson.WrittenCount == 0) return;
        var frame = BeginFrame();
        frame.Write("\"choices\":[{\"text\":"u8);
        WriteQuoted(frame, chunk.ContentJson.WrittenSpan);
        frame.Write(",\"index\":0,\"logprobs\":null,\"finish_reason\":null}]}"u8);
        EndFrame(output);
    }

    protected override void WriteFinishFrame(IBufferWriter<byte> output, string finishReason)
    {
        var frame = BeginFrame();
        frame.Write("\"choices\":[{\"text\":\"\",\"index\":0,\"logprobs\":null,\"finish_reason\":"u8);
        WriteFinishReason(frame, finishReason);
        frame.Write("}]}"u8);
        EndFrame(output);
    }

    protected override void WriteWhole(IBufferWriter<byte> output, string finishReason, GenerationChunk final)
    {
        WriteHeader(output, ObjectName);
        output.Write("\"choices\":[{\"text\":"u8);
        WriteQuoted(output, _text is not null ? _text.WrittenSpan : _finalHoldsText ? final.ContentJson.WrittenSpan : default);
        output.Write(",\"index\":0,\"logprobs\":null,\"finish_reason\":"u8);
        WriteFinishReason(output, finishReason);
        output.Write("}],"u8);
        WriteUsage(output, final);
        output.Write("}"u8);
    }
}
