using System.Text.Json.Nodes;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>GET /openapi/v1.json: the README promises a document of every endpoint, the generation endpoints included.</summary>
public sealed class OpenApiTests(SharedRouterFixture fixture, ITestOutputHelper output) : SharedRouterTest(fixture, output)
{
    [Fact]
    public async Task OpenApiDocument_ListsTheOpenAiAndAdminEndpoints()
    {
        using var response = await Router.Http.GetAsync("openapi/v1.json");
        var paths = Assert.IsType<JsonObject>((await response.ReadJsonAsync())["paths"]);

        foreach (var path in new[] { "/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models", "/v1/models/{id}", "/chat/completions", "/admin/keys", "/key/generate", "/metrics" })
            Assert.True(paths.ContainsKey(path), $"{path} is missing from the OpenAPI document: {string.Join(", ", paths.Select(p => p.Key))}");
        var chat = paths["/v1/chat/completions"]!["post"]!;
        Assert.NotNull(chat["responses"]?["200"]?["content"]?["text/event-stream"]);
        Assert.NotNull(chat["responses"]?["429"]);
    }
}
