using System.Net;
using System.Text.Json.Nodes;
using LlmRouter.Tests.Infrastructure;
using OpenAI.Chat;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>The same routes without /v1, and the x-request-id / x-llmrouter-backend headers on every response.</summary>
public sealed class RoutesAndHeadersTests(SharedRouterFixture fixture, ITestOutputHelper output) : SharedRouterTest(fixture, output)
{
    [Theory]
    [InlineData("POST", "chat/completions")]
    [InlineData("POST", "completions")]
    [InlineData("POST", "embeddings")]
    [InlineData("GET", "models")]
    [InlineData("GET", "models/chat")]
    public async Task Routes_WithAndWithoutV1Prefix_BothServe(string method, string path)
    {
        foreach (var prefix in new[] { "v1/", "" })
        {
            using var request = method == "GET"
                ? new HttpRequestMessage(HttpMethod.Get, prefix + path)
                : Requests.Post(prefix + path, BodyFor(path));

            using var response = await Router.Http.SendAsync(request);

            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{method} /{prefix}{path} → {(int)response.StatusCode}: {body}");
        }
    }

    /// <summary>A whole answer, an error too, goes out with its length, so it reaches the client in one write rather than as chunks.</summary>
    [Theory]
    [InlineData("chat/completions", true)]
    [InlineData("completions", true)]
    [InlineData("embeddings", true)]
    [InlineData("chat/completions", false)]
    public async Task WholeAnswer_CarriesContentLength_NotChunked(string path, bool valid)
    {
        // Without messages the request is refused with a 400 error body.
        using var request = Requests.Post("v1/" + path, valid ? BodyFor(path) : new JsonObject { ["model"] = "chat" });

        using var response = await Router.Http.SendAsync(request);

        var bytes = await response.Content.ReadAsByteArrayAsync();
        Assert.Equal(valid ? HttpStatusCode.OK : HttpStatusCode.BadRequest, response.StatusCode);
        Assert.NotEqual(true, response.Headers.TransferEncodingChunked);
        Assert.Equal(bytes.Length, response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task RequestId_SentByClient_IsEchoed()
    {
        using var request = Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello"));
        request.Headers.Add("x-request-id", "client-chosen-id-42");

        using var response = await Router.Http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("client-chosen-id-42", response.Header("x-request-id"));
    }

    [Fact]
    public async Task RequestId_NotSent_IsGeneratedAndUnique()
    {
        using var first = await Router.Http.GetAsync("v1/models");
        using var second = await Router.Http.GetAsync("v1/models");

        Assert.False(string.IsNullOrWhiteSpace(first.Header("x-request-id")), "No x-request-id on the response.");
        Assert.NotEqual(first.Header("x-request-id"), second.Header("x-request-id"));
    }

    [Fact]
    public async Task BackendHeader_NonStreamed_NamesAStableDeploymentId()
    {
        var client = Env.CreateOpenAIClient();

        var code1 = await client.GetChatClient("code").CompleteChatAsync([new UserChatMessage("a")]);
        var code2 = await client.GetChatClient("code").CompleteChatAsync([new UserChatMessage("b")]);
        var chat = await client.GetChatClient("chat").CompleteChatAsync([new UserChatMessage("c")]);

        var codeBackend = BackendOf(code1.GetRawResponse());
        Assert.Equal(codeBackend, BackendOf(code2.GetRawResponse()));
        Assert.NotEqual(codeBackend, BackendOf(chat.GetRawResponse()));
    }

    [Fact]
    public async Task Headers_Streamed_AreSentBeforeTheBody()
    {
        using var request = Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello", stream: true));
        request.Headers.Add("x-request-id", "streamed-id-7");

        using var response = await Router.Http.SendStreamingAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("streamed-id-7", response.Header("x-request-id"));
        Assert.False(string.IsNullOrWhiteSpace(response.Header("x-llmrouter-backend")), "No x-llmrouter-backend on a stream.");
    }

    [Fact]
    public async Task BackendHeader_Embeddings_IsPresent()
    {
        var result = await Env.CreateOpenAIClient().GetEmbeddingClient("embed").GenerateEmbeddingAsync("x");

        BackendOf(result.GetRawResponse());
    }

    private static string BackendOf(System.ClientModel.Primitives.PipelineResponse response)
    {
        Assert.True(response.Headers.TryGetValue("x-llmrouter-backend", out var backend), "No x-llmrouter-backend header.");
        Assert.False(string.IsNullOrWhiteSpace(backend));
        return backend!;
    }

    private static JsonNode BodyFor(string path) => path switch
    {
        "completions" => new JsonObject { ["model"] = "chat", ["prompt"] = "hello" },
        "embeddings" => new JsonObject { ["model"] = "embed", ["input"] = "hello" },
        _ => Requests.Chat("chat", "hello"),
    };
}
