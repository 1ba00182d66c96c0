using OllamaSimulator.Models;

namespace OllamaSimulator.Generation;

/// <summary>A validated chat/generate/completions request, reduced to what shapes the answer.</summary>
/// <param name="RequestedModel">Echoed in every answer exactly as the client spelled it.</param>
/// <param name="NumPredict"><c>options.num_predict</c> (or <c>max_tokens</c>); -1 means no cap.</param>
/// <param name="PromptEvalCount">Deterministic stand-in for prompt tokens: max(1, characters / 4).</param>
/// <param name="ToolCall">Set when the answer is a tool call instead of text.</param>
/// <param name="LoadOnly">Empty messages/prompt: Ollama only loads the model.</param>
/// <param name="UnloadAfter"><c>keep_alive: 0</c>: the model leaves memory after the answer.</param>
internal sealed record GenerationJob(
    string RequestedModel,
    ModelEntry Model,
    bool Stream,
    int NumPredict,
    int PromptEvalCount,
    ToolCallPlan? ToolCall,
    bool LoadOnly,
    bool UnloadAfter)
{
    /// <summary><c>logprobs: true</c>: the number of <c>top_logprobs</c> per token (0 for none); null when not asked.</summary>
    public int? TopLogprobs { get; init; }

    public static int PromptTokens(long characters) => (int)Math.Max(1, Math.Min(int.MaxValue, characters / 4));
}
