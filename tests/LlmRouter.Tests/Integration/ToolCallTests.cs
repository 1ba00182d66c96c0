using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using LlmRouter.Tests.Infrastructure;
using OpenAI.Chat;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>
/// Tool calls must come through intact, streamed or not (LiteLLM's best-known Ollama bug). The simulator
/// answers a request with tools by calling the first tool with every required parameter set to "test".
/// </summary>
public sealed class ToolCallTests(SharedRouterFixture fixture, ITestOutputHelper output) : SharedRouterTest(fixture, output)
{
    private const string WeatherSchema = """
        {
          "type": "object",
          "properties": {
            "city": { "type": "string", "description": "The city" },
            "unit": { "type": "string", "enum": ["celsius", "fahrenheit"] }
          },
          "required": ["city", "unit"]
        }
        """;

    private static readonly ChatTool WeatherTool =
        ChatTool.CreateFunctionTool("get_weather", "Get the weather in a city", BinaryData.FromString(WeatherSchema));

    [Fact]
    public async Task ToolCalls_NonStreamed_ArriveIntactWithToolCallsFinishReason()
    {
        var chat = Env.CreateOpenAIClient().GetChatClient("chat");

        var result = await chat.CompleteChatAsync(
            [new UserChatMessage("What is the weather in Toronto?")], new ChatCompletionOptions { Tools = { WeatherTool } });

        Assert.Equal(ChatFinishReason.ToolCalls, result.Value.FinishReason);
        var call = Assert.Single(result.Value.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.False(string.IsNullOrEmpty(call.Id));
        AssertArguments(call.FunctionArguments.ToString());
        await AssertToolsReachedBackendAsync();
    }

    [Fact]
    public async Task ToolCalls_Streamed_ArriveIntactWithToolCallsFinishReason()
    {
        var chat = Env.CreateOpenAIClient().GetChatClient("chat");

        var ids = new HashSet<string>();
        var names = new StringBuilder();
        var arguments = new StringBuilder();
        var finishReasons = new List<ChatFinishReason>();
        await foreach (var update in chat.CompleteChatStreamingAsync(
                           [new UserChatMessage("What is the weather in Toronto?")],
                           new ChatCompletionOptions { Tools = { WeatherTool } }))
        {
            foreach (var toolCall in update.ToolCallUpdates)
            {
                Assert.Equal(0, toolCall.Index);
                if (toolCall.ToolCallId is not null)
                {
                    ids.Add(toolCall.ToolCallId);
                }

                names.Append(toolCall.FunctionName);
                arguments.Append(toolCall.FunctionArgumentsUpdate?.ToString());
            }

            if (update.FinishReason is { } reason)
            {
                finishReasons.Add(reason);
            }
        }

        Assert.Equal(ChatFinishReason.ToolCalls, Assert.Single(finishReasons));
        Assert.False(string.IsNullOrEmpty(Assert.Single(ids)));
        Assert.Equal("get_weather", names.ToString());
        AssertArguments(arguments.ToString());
        await AssertToolsReachedBackendAsync();
    }

    [Fact]
    public async Task ToolCalls_StreamedRawFrames_CarryIndexIdTypeAndStringArguments()
    {
        var request = Requests.Chat("chat", "What is the weather in Toronto?", stream: true);
        request["tools"] = new JsonArray(new JsonObject
        {
            ["type"] = "function",
            ["function"] = new JsonObject
            {
                ["name"] = "get_weather",
                ["description"] = "Get the weather in a city",
                ["parameters"] = JsonNode.Parse(WeatherSchema),
            },
        });

        using var response = await Router.Http.SendStreamingAsync(Requests.Post("v1/chat/completions", request));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        var events = await sse.ReadAllEventsAsync();

        Assert.Equal("[DONE]", events[^1]);
        var toolCalls = events.SkipLast(1)
            .SelectMany(e => JsonNode.Parse(e)!["choices"]!.AsArray())
            .SelectMany(c => c!["delta"]?["tool_calls"]?.AsArray() ?? [])
            .ToList();
        var first = toolCalls.FirstOrDefault() ?? throw new Xunit.Sdk.XunitException($"No tool_calls delta:\n{sse.Raw}");
        Assert.Equal(0, first["index"]?.GetValue<int>());
        Assert.Equal("function", first["type"]?.GetValue<string>());
        Assert.False(string.IsNullOrEmpty(first["id"]?.GetValue<string>()), $"The first tool-call delta needs an id:\n{sse.Raw}");
        Assert.All(toolCalls, t => Assert.True(
            t!["function"]?["arguments"] is not { } arguments || arguments.GetValueKind() == JsonValueKind.String,
            $"arguments must be a JSON string, not an object:\n{sse.Raw}"));
        AssertArguments(string.Concat(toolCalls.Select(t => t!["function"]?["arguments"]?.GetValue<string>())));
    }

    private static void AssertArguments(string json)
    {
        using var arguments = JsonDocument.Parse(json);
        Assert.Equal(JsonValueKind.Object, arguments.RootElement.ValueKind);
        Assert.Equal("test", arguments.RootElement.GetProperty("city").GetString());
        Assert.Equal("test", arguments.RootElement.GetProperty("unit").GetString());
    }

    private async Task AssertToolsReachedBackendAsync()
    {
        var backend = Assert.Single(await Env.GetBackendRequestsAsync());
        var tool = Assert.Single(backend.Body!["tools"]!.AsArray())!;
        Assert.Equal("get_weather", tool["function"]?["name"]?.GetValue<string>());
        Assert.Equal(
            ["city", "unit"], tool["function"]?["parameters"]?["required"]?.AsArray().Select(r => r!.GetValue<string>()) ?? []);
    }
}
