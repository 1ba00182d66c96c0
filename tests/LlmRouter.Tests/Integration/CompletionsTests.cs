using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>
/// Legacy /v1/completions → Ollama /api/generate. The OpenAI .NET SDK has no public client for it, so these
/// tests use plain HTTP.
/// </summary>
public sealed class CompletionsTests(SharedRouterFixture fixture, ITestOutputHelper output) : SharedRouterTest(fixture, output)
{
    // 40 characters: the simulator reports 10 prompt tokens.
    private const string Prompt = "Complete this sentence: the sky is blue.";
    private const int Tokens = 6;

    [Fact]
    public async Task Completions_NonStreamed_ReturnsTextAndUsage()
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Tokens = Tokens });
        var request = new JsonObject { ["model"] = "chat", ["prompt"] = Prompt };

        using var response = await Router.Http.SendAsync(Requests.Post("v1/completions", request));

        var body = await response.ReadJsonAsync();
        Assert.Equal("text_completion", body["object"]?.GetValue<string>());
        Assert.Equal("chat", body["model"]?.GetValue<string>());
        var choice = Assert.Single(body["choices"]!.AsArray())!;
        Assert.Equal(ChatTests.SimulatorText(Tokens), choice["text"]?.GetValue<string>());
        Assert.Equal("stop", choice["finish_reason"]?.GetValue<string>());
        Assert.Equal(10, body["usage"]?["prompt_tokens"]?.GetValue<int>());
        Assert.Equal(Tokens, body["usage"]?["completion_tokens"]?.GetValue<int>());
        Assert.Equal(10 + Tokens, body["usage"]?["total_tokens"]?.GetValue<int>());

        var backend = Assert.Single(await Env.GetBackendRequestsAsync());
        Assert.Equal("/api/generate", backend.Path);
        Assert.Equal(RouterEnvironment.ChatModel, backend.Model);
        Assert.Equal(Prompt, backend.Body!["prompt"]?.GetValue<string>());
        Assert.True(backend.Body["stream"]!.GetValue<bool>(), "Ollama is asked to stream; the router assembles the body.");
    }

    [Fact]
    public async Task Completions_Streamed_ReturnsTextChunksUsageAndDone()
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Tokens = Tokens });
        var request = new JsonObject
        {
            ["model"] = "chat",
            ["prompt"] = Prompt,
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
        };

        using var response = await Router.Http.SendStreamingAsync(Requests.Post("completions", request));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        var events = await sse.ReadAllEventsAsync();

        Assert.True(events.Count >= 3 && events[^1] == "[DONE]", $"Expected chunks then [DONE]:\n{sse.Raw}");
        var chunks = events.SkipLast(1).Select(e => JsonNode.Parse(e)!).ToList();
        var text = new StringBuilder();
        foreach (var chunk in chunks)
        {
            Assert.Equal("text_completion", chunk["object"]?.GetValue<string>());
            foreach (var choice in chunk["choices"]!.AsArray())
            {
                text.Append(choice!["text"]?.GetValue<string>());
            }
        }

        Assert.True(text.Length > 0, $"No text streamed:\n{sse.Raw}");
        Assert.Single(chunks, c => c["choices"]!.AsArray().Any(ch => ch!["finish_reason"]?.GetValue<string>() == "stop"));
        var usage = Assert.Single(chunks, c => c["usage"] is JsonObject)["usage"]!;
        Assert.Equal(10, usage["prompt_tokens"]?.GetValue<int>());
        Assert.Equal(Tokens, usage["completion_tokens"]?.GetValue<int>());
        Assert.Single(chunks.Select(c => c["id"]?.GetValue<string>()).Distinct());

        var backend = Assert.Single(await Env.GetBackendRequestsAsync());
        Assert.Equal("/api/generate", backend.Path);
        Assert.True(backend.Body!["stream"]!.GetValue<bool>());
    }
}
