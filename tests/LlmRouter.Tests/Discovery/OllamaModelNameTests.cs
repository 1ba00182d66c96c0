using LlmRouter.Discovery;

namespace LlmRouter.Tests.Discovery;

public sealed class OllamaModelNameTests
{
    [Theory]
    [InlineData("llama3", "llama3:latest")]
    [InlineData("llama3:latest", "llama3:latest")]
    [InlineData("Llama3.1:8B", "llama3.1:8b")]
    [InlineData("  qwen2.5-coder:14b ", "qwen2.5-coder:14b")]
    [InlineData("library/llama3", "llama3:latest")]
    [InlineData("registry.ollama.ai/library/llama3:8b", "llama3:8b")]
    [InlineData("REGISTRY.OLLAMA.AI/library/Llama3", "llama3:latest")]
    [InlineData("registry.ollama.ai/someone/model", "someone/model:latest")]
    [InlineData("hf.co/bartowski/Llama-3.2-1B-Instruct-GGUF:Q4_K_M", "hf.co/bartowski/llama-3.2-1b-instruct-gguf:q4_k_m")]
    [InlineData("myhost:5000/team/model", "myhost:5000/team/model:latest")]
    [InlineData("myhost:5000/team/model:v2", "myhost:5000/team/model:v2")]
    public void Normalize_GivesOllamasShortestFormLowercased(string name, string expected) =>
        Assert.Equal(expected, OllamaModelName.Normalize(name));

    [Theory]
    [InlineData("llama3", "LLAMA3:latest")]
    [InlineData("nomic-embed-text", "nomic-embed-text:latest")]
    [InlineData("library/mistral:7b", "Mistral:7B")]
    public void AreSame_MatchesAsOllamaDoes(string a, string b) => Assert.True(OllamaModelName.AreSame(a, b));

    [Theory]
    [InlineData("llama3", "llama3:8b")]
    [InlineData("llama3:8b", "llama3:70b")]
    [InlineData("someone/llama3", "llama3")]
    [InlineData("llama3.1", "llama3")]
    public void AreSame_DifferentTagsOrNamespaces_AreDifferentModels(string a, string b) => Assert.False(OllamaModelName.AreSame(a, b));
}
