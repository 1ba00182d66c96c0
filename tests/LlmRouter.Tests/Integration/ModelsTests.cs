using System.Net;
using System.Text.Json.Nodes;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>GET /v1/models and /v1/models/{id}: the logical model names, never the backends' names.</summary>
public sealed class ModelsTests(SharedRouterFixture fixture, ITestOutputHelper output) : SharedRouterTest(fixture, output)
{
    [Fact]
    public async Task Models_ListThroughSdk_ReturnsEachLogicalNameOnce()
    {
        var models = await Env.CreateOpenAIClient().GetOpenAIModelClient().GetModelsAsync();

        Assert.Equal(["chat", "code", "embed"], models.Value.Select(m => m.Id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Models_ListRawJson_IsAnOpenAiListWithData()
    {
        using var response = await Router.Http.GetAsync("v1/models");

        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var body = await response.ReadJsonAsync();
        Assert.Equal("list", body["object"]?.GetValue<string>());
        var data = Assert.IsType<JsonArray>(body["data"]);
        Assert.Equal(3, data.Count);
        Assert.All(data, model =>
        {
            Assert.Equal("model", model!["object"]?.GetValue<string>());
            Assert.False(string.IsNullOrEmpty(model["id"]?.GetValue<string>()));
            Assert.True(model["created"]?.GetValue<long>() > 0, $"created must be a positive integer: {model.ToJsonString()}");
            Assert.False(string.IsNullOrEmpty(model["owned_by"]?.GetValue<string>()));
        });
    }

    [Theory]
    [InlineData("chat")]
    [InlineData("code")]
    [InlineData("embed")]
    public async Task Models_GetThroughSdk_ReturnsTheModel(string id)
    {
        var model = await Env.CreateOpenAIClient().GetOpenAIModelClient().GetModelAsync(id);

        Assert.Equal(id, model.Value.Id);
    }

    [Fact]
    public async Task Models_GetANameWithASlash_AsTheSdkEscapesIt_ReturnsTheModel()
    {
        // LiteLLM-style names such as "org/chat": the SDK sends GET v1/models/org%2Fchat.
        await using var env = await RouterEnvironment.StartSingleBackendAsync(customize: config => config with
        {
            Deployments = [.. config.Deployments, config.Deployments[0] with { ModelName = "org/chat", Id = "org-chat" }],
        });

        var model = await env.CreateOpenAIClient().GetOpenAIModelClient().GetModelAsync("org/chat");
        using var escaped = await env.Router.Http.GetAsync("v1/models/org%2Fchat");
        using var plain = await env.Router.Http.GetAsync("v1/models/org/chat");

        Assert.Equal("org/chat", model.Value.Id);
        Assert.Equal("org/chat", (await escaped.ReadJsonAsync())["id"]?.GetValue<string>());
        Assert.Equal("org/chat", (await plain.ReadJsonAsync())["id"]?.GetValue<string>());
    }

    [Fact]
    public async Task Models_AGroupNoBackendHolds_IsNotListed_OnceTheBackendsAreKnown()
    {
        // "ghost" is configured, but the only backend does not hold its model: a client should not be offered it.
        await using var env = await RouterEnvironment.StartSingleBackendAsync(customize: config => config with
        {
            Deployments = [.. config.Deployments, new("ghost", "ollama_chat/no-such-model:1b", config.Deployments[0].ApiBase)],
        });
        var models = env.CreateOpenAIClient().GetOpenAIModelClient();

        var listed = await Eventually.UntilAsync(async () => (await models.GetModelsAsync()).Value.Select(m => m.Id).ToList(),
            ids => !ids.Contains("ghost"), "the model poll to leave 'ghost' out of the list");
        using var ghost = await env.Router.Http.GetAsync("v1/models/ghost");

        Assert.Equal(["chat"], listed);
        await OpenAiErrorAssert.IsErrorAsync(ghost, HttpStatusCode.NotFound, code: "model_not_found");
    }

    [Fact]
    public async Task Models_GetUnknown_Returns404ModelNotFound()
    {
        using var response = await Router.Http.GetAsync("v1/models/no-such-model");

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.NotFound, code: "model_not_found");
    }
}
