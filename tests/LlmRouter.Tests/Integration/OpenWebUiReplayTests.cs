using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>
/// Replays what Open WebUI v0.7.2 sends to an "OpenAI API" connection (wire reference §4.3, §4.5) with a
/// plain HttpClient: no Authorization header when its key is empty, "Bearer " for RAG embeddings,
/// background calls with stream:false, image parts, tool-call follow-ups and the user-info headers.
/// </summary>
public sealed class OpenWebUiReplayTests(SharedRouterFixture fixture, ITestOutputHelper output) : SharedRouterTest(fixture, output)
{
    // A 1×1 PNG.
    private const string PngBase64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";

    [Fact]
    public async Task OpenWebUi_BackgroundCallWithStreamFalse_ReturnsJsonCompletion()
    {
        // Title generation: same endpoint, stream:false, max_tokens (Open WebUI renames max_completion_tokens).
        var body = JsonNode.Parse("""
            {
              "model": "chat",
              "messages": [{"role": "user", "content": "### Task:\nGenerate a concise, 3-5 word title for the chat history.\n### Chat History:\nUSER: hi"}],
              "stream": false,
              "max_tokens": 50,
              "temperature": 0.1
            }
            """)!;

        using var response = await Router.Http.SendAsync(Requests.Post("v1/chat/completions", body));

        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var completion = await response.ReadJsonAsync();
        Assert.Equal("chat.completion", completion["object"]?.GetValue<string>());
        var choice = Assert.Single(completion["choices"]!.AsArray())!;
        Assert.Equal("assistant", choice["message"]?["role"]?.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(choice["message"]?["content"]?.GetValue<string>()), completion.ToJsonString());
        Assert.Equal("stop", choice["finish_reason"]?.GetValue<string>());

        var sent = Assert.Single(await Env.GetBackendRequestsAsync()).Body!;
        Assert.True(sent["stream"]!.GetValue<bool>());
        Assert.Equal(50, sent["options"]?["num_predict"]?.GetValue<int>());
        Assert.Equal(0.1, sent["options"]?["temperature"]?.GetValue<double>() ?? double.NaN, 3);
    }

    [Fact]
    public async Task OpenWebUi_StreamedChat_HasSseHeadersAndWellFormedChunks()
    {
        var body = Requests.Chat("chat", "hello", stream: true);
        body["stream_options"] = new JsonObject { ["include_usage"] = true };

        using var response = await Router.Http.SendStreamingAsync(Requests.Post("v1/chat/completions", body));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoCache == true, $"Cache-Control: {response.Headers.CacheControl}");
        Assert.Equal("no", response.Header("X-Accel-Buffering"));

        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        var events = await sse.ReadAllEventsAsync();
        Assert.True(events.Count >= 4 && events[^1] == "[DONE]", $"Expected role, content, finish, usage, [DONE]:\n{sse.Raw}");
        var chunks = events.SkipLast(1).Select(e => JsonNode.Parse(e)!.AsObject()).ToList();
        Assert.All(chunks, c =>
        {
            Assert.Equal("chat.completion.chunk", c["object"]?.GetValue<string>());
            Assert.Equal("chat", c["model"]?.GetValue<string>());
            Assert.IsType<JsonArray>(c["choices"]);
        });
        Assert.Single(chunks.Select(c => c["id"]!.GetValue<string>()).Distinct());
        Assert.Single(chunks.Select(c => c["created"]!.GetValue<long>()).Distinct());
        Assert.Equal("assistant", chunks[0]["choices"]![0]!["delta"]?["role"]?.GetValue<string>());

        var finishes = chunks.SelectMany(c => c["choices"]!.AsArray())
            .Select(ch => ch!["finish_reason"]).Where(f => f is not null).Select(f => f!.GetValue<string>()).ToList();
        Assert.Equal(["stop"], finishes);
        var usageChunk = chunks[^1];
        Assert.Empty(usageChunk["choices"]!.AsArray());
        Assert.True(usageChunk["usage"]?["completion_tokens"]?.GetValue<int>() > 0, sse.Raw);
    }

    [Fact]
    public async Task OpenWebUi_ImageParts_ReachBackendAsBase64WithoutDataPrefix()
    {
        var body = JsonNode.Parse($$$"""
            {
              "stream": true,
              "model": "chat",
              "messages": [
                {"role": "system", "content": "You describe images."},
                {"role": "user", "content": [
                  {"type": "text", "text": "What is this?"},
                  {"type": "image_url", "image_url": {"url": "data:image/png;base64,{{{PngBase64}}}"}}
                ]}
              ],
              "stream_options": {"include_usage": true}
            }
            """)!;

        await SendStreamedAndReadToDoneAsync(body);

        var messages = Assert.Single(await Env.GetBackendRequestsAsync()).Messages;
        var withImages = messages.Where(m => m!["images"] is JsonArray { Count: > 0 }).ToList();
        var images = Assert.Single(withImages)!["images"]!.AsArray();
        Assert.Equal(PngBase64, Assert.Single(images)!.GetValue<string>());
        Assert.Contains(messages, m => m!["role"]?.GetValue<string>() == "user" &&
                                       m["content"]?.GetValue<string>().Contains("What is this?") == true);
        Assert.All(messages, m => Assert.Equal(JsonValueKind.String, m!["content"]?.GetValueKind()));
    }

    [Fact]
    public async Task OpenWebUi_DeveloperRole_ReachesBackendAsSystem()
    {
        // Open WebUI turns the first system message into "developer" for o1/o3/o4/gpt-5 ids on any connection.
        // Ollama's templates only know system/user/assistant/tool, so the router must map it.
        var body = JsonNode.Parse("""
            {
              "model": "chat",
              "stream": false,
              "messages": [
                {"role": "developer", "content": "Answer like a pirate."},
                {"role": "user", "content": "hi"}
              ],
              "max_completion_tokens": 20
            }
            """)!;

        using var response = await Router.Http.SendAsync(Requests.Post("v1/chat/completions", body));

        await response.ReadJsonAsync();
        var messages = Assert.Single(await Env.GetBackendRequestsAsync()).Messages;
        var instruction = Assert.Single(messages, m => m!["content"]?.GetValue<string>() == "Answer like a pirate.")!;
        Assert.Equal("system", instruction["role"]?.GetValue<string>());
    }

    [Fact]
    public async Task OpenWebUi_ToolCallFollowUp_ReachesBackendWithObjectArgumentsAndToolName()
    {
        var body = JsonNode.Parse("""
            {
              "model": "chat",
              "stream": true,
              "messages": [
                {"role": "user", "content": "What is the weather in Toronto?"},
                {"role": "assistant", "content": "", "tool_calls": [
                  {"id": "call_abc123", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Toronto\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_abc123", "content": "11 degrees celsius"}
              ],
              "tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
            }
            """)!;

        var chunks = await SendStreamedAndReadToDoneAsync(body);

        // After a tool result the simulator answers with text, so this is a normal end.
        Assert.Contains(chunks, c => c["choices"]!.AsArray().Any(ch => ch!["finish_reason"]?.GetValue<string>() == "stop"));
        var messages = Assert.Single(await Env.GetBackendRequestsAsync()).Messages;
        Assert.Equal(3, messages.Count);
        var call = Assert.Single(messages[1]!["tool_calls"]!.AsArray())!["function"]!;
        Assert.Equal("get_weather", call["name"]?.GetValue<string>());
        var arguments = Assert.IsType<JsonObject>(call["arguments"]);
        Assert.Equal("Toronto", arguments["city"]?.GetValue<string>());
        Assert.Equal("tool", messages[2]!["role"]?.GetValue<string>());
        Assert.Equal("get_weather", messages[2]!["tool_name"]?.GetValue<string>());
        Assert.Equal("11 degrees celsius", messages[2]!["content"]?.GetValue<string>());
    }

    [Fact]
    public async Task OpenWebUi_UserInfoHeaders_AreAccepted()
    {
        using var request = Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello", stream: true));
        request.Headers.TryAddWithoutValidation("X-OpenWebUI-User-Name", "Zo%C3%AB O'Brien Jr");
        request.Headers.TryAddWithoutValidation("X-OpenWebUI-User-Id", "3f0c8e2a-5d4b-4c1e-9a7f-1b2c3d4e5f60");
        request.Headers.TryAddWithoutValidation("X-OpenWebUI-User-Email", "zoe@example.com");
        request.Headers.TryAddWithoutValidation("X-OpenWebUI-User-Role", "user");
        request.Headers.TryAddWithoutValidation("X-OpenWebUI-Chat-Id", "9b2e7c4d-0000-4000-8000-000000000001");

        using var response = await Router.Http.SendStreamingAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        Assert.Equal("[DONE]", (await sse.ReadAllEventsAsync())[^1]);
    }

    [Theory]
    [InlineData("GET", "v1/models")]
    [InlineData("POST", "v1/chat/completions")]
    public async Task OpenWebUi_NoAuthorizationHeader_IsAcceptedWithoutMasterKey(string method, string path)
    {
        using var request = method == "GET"
            ? new HttpRequestMessage(HttpMethod.Get, path)
            : Requests.Post(path, Requests.Chat("chat", "hello", stream: false));
        Assert.Null(request.Headers.Authorization);
        Assert.Null(Router.Http.DefaultRequestHeaders.Authorization);

        using var response = await Router.Http.SendAsync(request);

        await response.ReadJsonAsync();
    }

    [Fact]
    public async Task OpenWebUi_EmbeddingsWithEmptyBearer_AreAccepted()
    {
        using var request = Requests.Post("v1/embeddings", JsonNode.Parse("""{"input": ["chunk one", "chunk two"], "model": "embed"}""")!);
        request.Headers.TryAddWithoutValidation("Authorization", "Bearer ");

        using var response = await Router.Http.SendAsync(request);

        var body = await response.ReadJsonAsync();
        var data = body["data"]!.AsArray();
        Assert.Equal(2, data.Count);
        Assert.All(data, d => Assert.True(d!["embedding"]!.AsArray().Count > 0));
    }

    private async Task<List<JsonObject>> SendStreamedAndReadToDoneAsync(JsonNode body)
    {
        using var response = await Router.Http.SendStreamingAsync(Requests.Post("v1/chat/completions", body));
        var text = response.StatusCode == HttpStatusCode.OK ? "" : await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        var events = await sse.ReadAllEventsAsync();
        Assert.True(events.Count > 0 && events[^1] == "[DONE]", $"The stream did not end with [DONE]:\n{sse.Raw}");
        return events.SkipLast(1).Select(e => JsonNode.Parse(e)!.AsObject()).ToList();
    }
}
