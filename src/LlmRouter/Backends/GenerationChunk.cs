using System.Buffers;

namespace LlmRouter.Backends;

/// <summary>
/// One step of a generated answer in provider-neutral form, reused for every line of a response.
/// Text is kept as JSON-escaped UTF-8 exactly as the backend sent it, so relaying a token copies bytes
/// instead of decoding and re-encoding a string.
/// </summary>
internal sealed class GenerationChunk
{
    public ArrayBufferWriter<byte> ContentJson { get; } = new(256);
    public ArrayBufferWriter<byte> ReasoningJson { get; } = new(64);
    public List<ToolCall> ToolCalls { get; } = [];
    /// <summary>The line's <c>logprobs</c> array as sent (only when the request asked for them); empty otherwise.</summary>
    public ArrayBufferWriter<byte> LogprobsJson => _logprobs ??= new(256);
    private ArrayBufferWriter<byte>? _logprobs;
    /// <summary>The line has log probabilities: more than an empty array.</summary>
    public bool HasLogprobs => _logprobs is { WrittenCount: > 2 };
    public bool Done { get; set; }
    public string? DoneReason { get; set; }
    public int PromptTokens { get; set; }
    public int CompletionTokens { get; set; }
    /// <summary>An error the backend reported inside its answer.</summary>
    public string? Error { get; set; }

    public bool HasDelta => ContentJson.WrittenCount > 0 || ReasoningJson.WrittenCount > 0 || ToolCalls.Count > 0 || HasLogprobs;

    public void Reset()
    {
        ContentJson.ResetWrittenCount();
        ReasoningJson.ResetWrittenCount();
        ToolCalls.Clear();
        _logprobs?.ResetWrittenCount();
        Done = false;
        DoneReason = null;
        PromptTokens = 0;
        CompletionTokens = 0;
        Error = null;
    }
}

/// <summary>A complete tool call; <see cref="ArgumentsJson"/> is the arguments object as JSON text.</summary>
internal sealed record ToolCall(string? Id, string Name, string ArgumentsJson);
