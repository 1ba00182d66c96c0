using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>/v1/embeddings through the SDK's EmbeddingClient → Ollama /api/embed.</summary>
public sealed class EmbeddingsTests(SharedRouterFixture fixture, ITestOutputHelper output) : SharedRouterTest(fixture, output)
{
    [Fact]
    public async Task Embeddings_SingleInput_ReturnsOneVector()
    {
        var client = Env.CreateOpenAIClient().GetEmbeddingClient("embed");

        var result = await client.GenerateEmbeddingAsync("The quick brown fox");

        var vector = result.Value.ToFloats();
        Assert.True(vector.Length > 0, "The embedding is empty.");
        Assert.Contains(vector.ToArray(), v => v != 0);
        var backend = Assert.Single(await Env.GetBackendRequestsAsync());
        Assert.Equal("/api/embed", backend.Path);
        Assert.Equal(RouterEnvironment.EmbedModel, backend.Model);
    }

    [Fact]
    public async Task Embeddings_ThreeInputs_ReturnsOneVectorPerInputInOrder()
    {
        var client = Env.CreateOpenAIClient().GetEmbeddingClient("embed");

        var result = await client.GenerateEmbeddingsAsync(["alpha", "beta", "gamma"]);

        Assert.Equal([0, 1, 2], result.Value.Select(e => e.Index));
        Assert.All(result.Value, e => Assert.True(e.ToFloats().Length > 0));
        Assert.Equal(result.Value[0].ToFloats().Length, result.Value[2].ToFloats().Length);
        var backend = Assert.Single(await Env.GetBackendRequestsAsync());
        Assert.Equal(["alpha", "beta", "gamma"], backend.Body!["input"]!.AsArray().Select(i => i!.GetValue<string>()));
    }
}
