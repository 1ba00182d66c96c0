using OllamaSimulator.Generation;

namespace OllamaSimulator.OpenAi;

/// <summary>A validated <c>/v1/chat/completions</c> request: the native job plus OpenAI-only switches.</summary>
internal sealed record ChatCompletionRequest(GenerationJob Job, bool IncludeUsage);
