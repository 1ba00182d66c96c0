using System.Net;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// Ollama silently truncates a prompt longer than the model's context. A prompt estimated to exceed the group's
/// context length goes straight to its <c>context_window_fallbacks</c> group instead; a prompt that fits stays.
/// </summary>
public sealed class ContextWindowFallbackTests(ContextWindowFallbackTests.Fixture fixture, ITestOutputHelper output)
    : IClassFixture<ContextWindowFallbackTests.Fixture>, IAsyncLifetime
{
    private const string LongContextModel = "qwen2.5:32b";

    private readonly Cluster _cluster = fixture.Cluster;
    private LogMarks? _marks;

    public sealed class Fixture : IAsyncLifetime
    {
        internal Cluster Cluster { get; private set; } = null!;

        public async Task InitializeAsync() =>
            Cluster = await Cluster.StartAsync(null,
                [new SimulatorOptions { Models = [RouterEnvironment.ChatModel, LongContextModel] }],
                sims => new RouterConfig
                {
                    Deployments =
                    [
                        new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "short-context") { Params = "max_input_tokens: 100" },
                        new("chat-long", $"ollama_chat/{LongContextModel}", sims[0].ApiBase, "long-context") { Params = "max_input_tokens: 100000" },
                    ],
                    Router = new Dictionary<string, string> { ["context_window_fallbacks"] = "[{chat: [chat-long]}]" },
                });

        public async Task DisposeAsync() => await Cluster.DisposeAsync();
    }

    public async Task InitializeAsync()
    {
        await Task.WhenAll(_cluster.Simulators.Select(s => s.Control.ResetAsync()));
        _marks = _cluster.MarkLogs();
    }

    public Task DisposeAsync()
    {
        _marks?.WriteTo(output);
        return Task.CompletedTask;
    }

    [Fact]
    public async Task PromptFits_StaysOnTheGroupAskedFor()
    {
        using var response = await SendAsync("a short question");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("short-context", response.Header("x-llmrouter-backend"));
        Assert.Null(response.Header("x-llmrouter-fallback"));
    }

    [Fact]
    public async Task PromptTooLongForTheContext_ServedByTheContextWindowFallback()
    {
        // About 2,000 characters: some 500 tokens, far over the 100 the short-context model takes.
        using var response = await SendAsync(string.Join(' ', Enumerable.Repeat("context", 250)));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("long-context", response.Header("x-llmrouter-backend"));
        Assert.Equal("chat-long", response.Header("x-llmrouter-fallback"));
        var requests = await _cluster.Simulators[0].Control.GetRequestsAsync();
        Assert.DoesNotContain(requests, r => r.Path == "/api/chat" && r.Body?["model"]?.GetValue<string>() == RouterEnvironment.ChatModel);
    }

    private Task<HttpResponseMessage> SendAsync(string prompt) =>
        _cluster.Router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", prompt)));
}
