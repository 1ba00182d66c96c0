using System.Net;
using System.Text.Json.Nodes;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// When a group's retries are spent, its fallbacks are tried in order; the client gets the fallback's answer and
/// <c>x-llmrouter-fallback</c> naming the group that served. A request can turn fallbacks off or name its own.
/// </summary>
public sealed class FallbackTests(FallbackTests.Fixture fixture, ITestOutputHelper output) : IClassFixture<FallbackTests.Fixture>, IAsyncLifetime
{
    private const string BigModel = "llama3.1:70b";
    private const string OtherModel = "qwen2.5:32b";

    private readonly Cluster _cluster = fixture.Cluster;
    private LogMarks? _marks;

    /// <summary>One cluster for the class; each test starts from reset simulators (the failing one keeps its fault).</summary>
    public sealed class Fixture : IAsyncLifetime
    {
        internal Cluster Cluster { get; private set; } = null!;

        public async Task InitializeAsync() =>
            Cluster = await Cluster.StartAsync(null,
                [
                    // Serves the big models, and fails every time.
                    new SimulatorOptions { Models = [BigModel, OtherModel], Fault = SimFault.ErrorBefore },
                    new SimulatorOptions { Models = [RouterEnvironment.ChatModel] },
                ],
                sims => new RouterConfig
                {
                    Deployments =
                    [
                        new("chat-large", $"ollama_chat/{BigModel}", sims[0].ApiBase, "large"),
                        new("chat-other", $"ollama_chat/{OtherModel}", sims[0].ApiBase, "other"),
                        new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[1].ApiBase, "small"),
                    ],
                    Router = new Dictionary<string, string>
                    {
                        ["fallbacks"] = "[{chat-large: [chat]}]",
                        // Keeps the failing deployments out of cooldown, so each test meets the failure itself.
                        ["allowed_fails"] = "1000",
                    },
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
    public async Task ConfiguredFallback_GroupFails_ServedByFallbackWithHeader()
    {
        using var response = await SendAsync(Requests.Chat("chat-large", "hello"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("chat", response.Header("x-llmrouter-fallback"));
        Assert.Equal("small", response.Header("x-llmrouter-backend"));
        // The answer still carries the model the client asked for.
        Assert.Equal("chat-large", (await response.ReadJsonAsync())["model"]!.GetValue<string>());
        Assert.True((await _cluster.Simulators[0].Control.GetStatsAsync()).Faulted >= 1, "chat-large was never tried.");
    }

    [Fact]
    public async Task DisableFallbacks_GroupFails_ReturnsTheError()
    {
        var body = Requests.Chat("chat-large", "hello");
        body["disable_fallbacks"] = true;

        using var response = await SendAsync(body);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.BadGateway, code: "backend_error");
        Assert.Null(response.Header("x-llmrouter-fallback"));
        Assert.Equal(0, (await _cluster.Simulators[1].Control.GetStatsAsync()).Received);
    }

    [Fact]
    public async Task RequestFallbacks_GroupWithoutConfiguredFallbackFails_ServedByRequestedFallback()
    {
        // Without them the request fails: nothing is configured for chat-other.
        using (var unaided = await SendAsync(Requests.Chat("chat-other", "hello")))
        {
            await OpenAiErrorAssert.IsErrorAsync(unaided, HttpStatusCode.BadGateway, code: "backend_error");
        }

        var body = Requests.Chat("chat-other", "hello");
        body["fallbacks"] = new JsonArray("chat");
        using var response = await SendAsync(body);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("chat", response.Header("x-llmrouter-fallback"));
        Assert.Equal("small", response.Header("x-llmrouter-backend"));
    }

    private Task<HttpResponseMessage> SendAsync(JsonObject body) =>
        _cluster.Router.Http.SendAsync(Requests.Post("v1/chat/completions", body));
}
