using System.Diagnostics;
using System.Text.Json;

namespace OllamaSimulator.Generation;

/// <summary>The final line's metrics: integer nanoseconds and counts, each omitted when zero (Go's omitempty).</summary>
internal readonly record struct AnswerMetrics(
    long TotalNs,
    long LoadNs,
    int PromptEvalCount,
    long PromptEvalNs,
    int EvalCount,
    long EvalNs)
{
    private static readonly double NsPerTick = 1e9 / Stopwatch.Frequency;

    public static long Ns(long fromTimestamp, long toTimestamp) => (long)((toTimestamp - fromTimestamp) * NsPerTick);

    public void WriteTo(Utf8JsonWriter json)
    {
        if (TotalNs > 0) json.WriteNumber("total_duration"u8, TotalNs);
        if (LoadNs > 0) json.WriteNumber("load_duration"u8, LoadNs);
        if (PromptEvalCount > 0) json.WriteNumber("prompt_eval_count"u8, PromptEvalCount);
        if (PromptEvalNs > 0) json.WriteNumber("prompt_eval_duration"u8, PromptEvalNs);
        if (EvalCount > 0) json.WriteNumber("eval_count"u8, EvalCount);
        if (EvalNs > 0) json.WriteNumber("eval_duration"u8, EvalNs);
    }
}
