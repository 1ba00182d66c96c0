using System.Text;
using LlmRouter.Tests.Infrastructure;
using OpenAI.Chat;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>Chat completions through the official OpenAI .NET SDK, streamed and not, for both chat deployments.</summary>
public sealed class ChatTests(SharedRouterFixture fixture, ITestOutputHelper output) : SharedRouterTest(fixture, output)
{
    // 40 characters: the simulator reports max(1, chars / 4) = 10 prompt tokens.
    private const string Prompt = "Why is the sky blue? Answer in one line.";
    private const int PromptTokens = 10;
    private const int Tokens = 5;

    [Theory]
    [InlineData("chat", RouterEnvironment.ChatModel)]
    [InlineData("code", RouterEnvironment.CodeModel)]
    public async Task Chat_NonStreamed_ReturnsContentAndUsage(string model, string backendModel)
    {
        Assert.Equal(40, Prompt.Length);
        await Env.ConfigureSimulatorsAsync(new SimConfig { Tokens = Tokens });
        var chat = Env.CreateOpenAIClient().GetChatClient(model);

        var result = await chat.CompleteChatAsync([new UserChatMessage(Prompt)]);

        var completion = result.Value;
        Assert.NotEmpty(completion.Content);
        // Ollama streams it to the router (one line per token); the client gets every token in one body.
        Assert.Equal(SimulatorText(Tokens), completion.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(model, completion.Model);
        Assert.False(string.IsNullOrEmpty(completion.Id));
        Assert.Equal(PromptTokens, completion.Usage.InputTokenCount);
        Assert.Equal(Tokens, completion.Usage.OutputTokenCount);
        Assert.Equal(PromptTokens + Tokens, completion.Usage.TotalTokenCount);

        var backend = Assert.Single(await Env.GetBackendRequestsAsync());
        Assert.Equal("/api/chat", backend.Path);
        Assert.Equal(backendModel, backend.Model);
        Assert.True(backend.Body!["stream"]!.GetValue<bool>(), "Ollama is asked to stream, so an attempt can tell a slow start from a long answer.");
        Assert.Equal(Tokens, backend.TokensSent);
    }

    /// <summary>The simulator's answer of <paramref name="tokens"/> tokens: "Hello from the Ollama simulator. Hello …".</summary>
    internal static string SimulatorText(int tokens) =>
        string.Concat(Enumerable.Range(0, tokens).Select(i => i > 0 && i % 6 == 0 ? " Hello" : ((string[])["Hello", " from", " the", " Ollama", " simulator", "."])[i % 6]));

    [Fact]
    public async Task Chat_LogProbabilities_ArriveWithEveryToken_StreamedAndNot()
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Tokens = Tokens });
        var chat = Env.CreateOpenAIClient().GetChatClient("chat");
        var options = new ChatCompletionOptions { IncludeLogProbabilities = true, TopLogProbabilityCount = 2 };

        var whole = (await chat.CompleteChatAsync([new UserChatMessage(Prompt)], options)).Value;
        var streamed = new List<ChatTokenLogProbabilityDetails>();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(Prompt)], options))
        {
            streamed.AddRange(update.ContentTokenLogProbabilities);
        }

        foreach (var tokens in new[] { whole.ContentTokenLogProbabilities, streamed })
        {
            // One per token, in order, each spelling its token and carrying the two alternatives asked for.
            Assert.Equal(SimulatorText(Tokens), string.Concat(tokens.Select(t => t.Token)));
            Assert.All(tokens, t =>
            {
                Assert.True(t.LogProbability < 0, $"logprob {t.LogProbability}");
                Assert.Equal(t.Token, System.Text.Encoding.UTF8.GetString(t.Utf8Bytes!.Value.Span));
                Assert.Equal(2, t.TopLogProbabilities.Count);
                Assert.Equal(t.Token, t.TopLogProbabilities[0].Token);
            });
        }
        var sent = await Env.GetBackendRequestsAsync();
        Assert.All(sent, r =>
        {
            Assert.True(r.Body!["logprobs"]!.GetValue<bool>());
            Assert.Equal(2, r.Body["top_logprobs"]!.GetValue<int>());
        });
    }

    [Fact]
    public async Task Chat_WithoutLogProbabilities_AnswersCarryNull()
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Tokens = Tokens });

        using var response = await Router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", Prompt, stream: false)));

        var body = await response.ReadJsonAsync();
        var choice = body["choices"]![0]!.AsObject();
        Assert.True(choice.ContainsKey("logprobs") && choice["logprobs"] is null, body.ToJsonString());
        Assert.False(Assert.Single(await Env.GetBackendRequestsAsync()).Body!.AsObject().ContainsKey("logprobs"));
    }

    [Theory]
    [InlineData("chat", RouterEnvironment.ChatModel)]
    [InlineData("code", RouterEnvironment.CodeModel)]
    public async Task Chat_Streamed_ReturnsTokensAndUsage(string model, string backendModel)
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Tokens = Tokens });
        var chat = Env.CreateOpenAIClient().GetChatClient(model);

        var text = new StringBuilder();
        var updates = new List<StreamingChatCompletionUpdate>();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage(Prompt)]))
        {
            updates.Add(update);
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
        }

        Assert.True(text.Length > 0, "No content arrived in the stream.");
        var finish = Assert.Single(updates, u => u.FinishReason is not null);
        Assert.Equal(ChatFinishReason.Stop, finish.FinishReason);
        var usage = Assert.Single(updates, u => u.Usage is not null).Usage;
        Assert.Equal(PromptTokens, usage.InputTokenCount);
        Assert.Equal(Tokens, usage.OutputTokenCount);
        Assert.Equal(PromptTokens + Tokens, usage.TotalTokenCount);
        Assert.Single(updates.Select(u => u.CompletionId).Distinct());
        Assert.False(string.IsNullOrEmpty(updates[0].CompletionId));
        Assert.All(updates, u => Assert.Equal(model, u.Model));
        Assert.Single(updates.Select(u => u.CreatedAt).Distinct());

        var backend = Assert.Single(await Env.GetBackendRequestsAsync());
        Assert.Equal("/api/chat", backend.Path);
        Assert.Equal(backendModel, backend.Model);
        Assert.True(backend.Body!["stream"]!.GetValue<bool>(), "A streamed request must send stream:true upstream.");
        Assert.Equal(Tokens, backend.TokensSent);
    }

    [Fact]
    public async Task Chat_MaxOutputTokenCount_MapsToNumPredictAndFinishesWithLength()
    {
        var chat = Env.CreateOpenAIClient().GetChatClient("chat");

        // The SDK sends max_completion_tokens, which Ollama itself ignores.
        var result = await chat.CompleteChatAsync(
            [new UserChatMessage(Prompt)], new ChatCompletionOptions { MaxOutputTokenCount = 3 });

        Assert.Equal(ChatFinishReason.Length, result.Value.FinishReason);
        Assert.Equal(3, result.Value.Usage.OutputTokenCount);
        var backend = Assert.Single(await Env.GetBackendRequestsAsync());
        Assert.Equal(3, backend.Body!["options"]?["num_predict"]?.GetValue<int>());
    }

    [Fact]
    public async Task Chat_SamplingOptions_ReachBackendAsOllamaOptions()
    {
        var chat = Env.CreateOpenAIClient().GetChatClient("chat");
        var options = new ChatCompletionOptions
        {
            Temperature = 0.25f,
            TopP = 0.5f,
            PresencePenalty = 0.5f,
            FrequencyPenalty = 0.75f,
            StopSequences = { "END" },
            ResponseFormat = ChatResponseFormat.CreateJsonObjectFormat(),
        };

        await chat.CompleteChatAsync([new UserChatMessage("Reply with a JSON object.")], options);

        var body = Assert.Single(await Env.GetBackendRequestsAsync()).Body!;
        var sent = body["options"] ?? throw new Xunit.Sdk.XunitException($"No options upstream: {body.ToJsonString()}");
        Assert.Equal(0.25, sent["temperature"]!.GetValue<double>(), 3);
        Assert.Equal(0.5, sent["top_p"]!.GetValue<double>(), 3);
        Assert.Equal(0.5, sent["presence_penalty"]!.GetValue<double>(), 3);
        Assert.Equal(0.75, sent["frequency_penalty"]!.GetValue<double>(), 3);
        Assert.Equal("END", Assert.Single(sent["stop"]!.AsArray())!.GetValue<string>());
        Assert.Equal("json", body["format"]?.GetValue<string>());
    }

    [Fact]
    public async Task Chat_TwoResponses_HaveDifferentIds()
    {
        var chat = Env.CreateOpenAIClient().GetChatClient("chat");

        var first = await chat.CompleteChatAsync([new UserChatMessage("one")]);
        var second = await chat.CompleteChatAsync([new UserChatMessage("two")]);

        Assert.NotEqual(first.Value.Id, second.Value.Id);
    }
}
