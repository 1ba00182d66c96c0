namespace OllamaSimulator.Generation;

/// <summary>Renders one answer in one wire format (native NDJSON or JSON, OpenAI SSE or JSON).</summary>
internal interface IAnswerWriter
{
    /// <summary>True once a byte of the answer (and so the 200 status) has gone out.</summary>
    bool HasStarted { get; }

    ValueTask WriteTokenAsync(int index, bool timestamp, CancellationToken ct);

    ValueTask WriteToolCallAsync(ToolCallPlan call, CancellationToken ct);

    ValueTask WriteFinalAsync(string doneReason, AnswerMetrics metrics, CancellationToken ct);

    /// <summary>Before the first byte: a JSON error with <paramref name="status"/>. After it: the format's mid-stream error.</summary>
    Task WriteErrorAsync(int status, string message, CancellationToken ct);
}
