using System.Diagnostics;
using System.Net;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// A backend that stops answering is cut off by the router's own timeouts with the right error: 504 <c>timeout</c>
/// when nothing came in <c>first_token_timeout</c> (<c>stream_timeout</c> for a stream; after the retries), an error
/// frame when a started stream goes quiet for <c>idle_timeout</c>. A non-streamed answer that has started may take as
/// long as <c>timeout</c> allows.
/// </summary>
public sealed class TimeoutTests(ITestOutputHelper output)
{
    [Fact]
    public async Task BackendHangsBeforeFirstToken_Returns504AfterRetries()
    {
        await using var cluster = await StartAsync(SimFault.Hang, new Dictionary<string, string>
        {
            ["first_token_timeout"] = "1",
            ["num_retries"] = "2",
        });
        var clock = Stopwatch.StartNew();

        using var response = await SendAsync(cluster, stream: false);

        // One try and two retries, each given its full second.
        await TimedOutAfterAttemptsAsync(response, cluster, clock, attempts: 3);
    }

    [Fact]
    public async Task NonStreamed_AnswerLongerThanFirstTokenTimeout_ArrivesWhole()
    {
        // first_token_timeout bounds the wait for generation to start, not the whole answer: 20 tokens 100 ms apart
        // take twice the one second given.
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions { Tokens = 20, TokenIntervalMs = 100 }],
            sims => new RouterConfig
            {
                Deployments = [new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "sim-a")],
                Router = new Dictionary<string, string> { ["first_token_timeout"] = "1", ["num_retries"] = "0" },
            });
        var clock = Stopwatch.StartNew();

        using var response = await SendAsync(cluster, stream: false);

        var body = await response.ReadJsonAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {body.ToJsonString()}");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(1.9), $"Answered after {clock.Elapsed.TotalSeconds:0.0} s.");
        Assert.Equal(Integration.ChatTests.SimulatorText(20), body["choices"]?[0]?["message"]?["content"]?.GetValue<string>());
        Assert.Equal(1, (await cluster.Simulators[0].Control.GetStatsAsync()).Received);
    }

    [Fact]
    public async Task EmbeddingBackendHangs_FirstTokenTimeoutBoundsEachAttempt_504()
    {
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions { Models = [RouterEnvironment.EmbedModel], Fault = SimFault.Hang }],
            sims => new RouterConfig
            {
                Deployments = [new("embed", $"ollama/{RouterEnvironment.EmbedModel}", sims[0].ApiBase, "sim-a")],
                Router = new Dictionary<string, string> { ["first_token_timeout"] = "1", ["num_retries"] = "1" },
            });
        var clock = Stopwatch.StartNew();

        using var response = await cluster.Router.Http.SendAsync(Requests.Post("v1/embeddings", new System.Text.Json.Nodes.JsonObject
        {
            ["model"] = "embed",
            ["input"] = "hello",
        }));

        await TimedOutAfterAttemptsAsync(response, cluster, clock, attempts: 2);
    }

    /// <summary>504 <c>timeout</c> after each attempt had its full second (a lower bound holds on any machine), each abandoned upstream.</summary>
    private static async Task TimedOutAfterAttemptsAsync(HttpResponseMessage response, Cluster cluster, Stopwatch clock, int attempts)
    {
        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.GatewayTimeout, code: "timeout");
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(attempts - 0.1), $"Answered after {clock.Elapsed.TotalSeconds:0.0} s.");
        var stats = await Eventually.UntilAsync(cluster.Simulators[0].Control.GetStatsAsync, s => s.Active == 0,
            "the hung requests to be abandoned by the router");
        Assert.Equal(attempts, stats.Received);
        Assert.Equal(attempts, stats.Cancelled);
    }

    [Fact]
    public async Task BackendHangs_TotalTimeoutBoundsTheWholeCallRetriesIncluded()
    {
        // timeout is the whole call (LiteLLM's meaning kept): retries must not each get it afresh.
        await using var cluster = await StartAsync(SimFault.Hang, new Dictionary<string, string>
        {
            ["timeout"] = "2",
            ["num_retries"] = "4",
        });
        var clock = Stopwatch.StartNew();

        using var response = await SendAsync(cluster, stream: false);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.GatewayTimeout, code: "timeout");
        output.WriteLine($"504 after {clock.Elapsed.TotalSeconds:0.00} s with timeout 2 s");
        // Five attempts of 2 s each would take 10 s; the wide margin is for a loaded machine.
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(1.9), TimeSpan.FromSeconds(6));
    }

    [Fact]
    public async Task StreamedRequest_BackendHangsBeforeFirstChunk_StreamTimeoutApplies_NotFirstTokenTimeout()
    {
        // stream_timeout bounds a streamed answer's first chunk; first_token_timeout is for non-streamed answers only.
        await using var cluster = await StartAsync(SimFault.Hang, new Dictionary<string, string>
        {
            ["stream_timeout"] = "1",
            ["first_token_timeout"] = "120",
            ["num_retries"] = "0",
        });
        var clock = Stopwatch.StartNew();

        using var response = await SendAsync(cluster, stream: true);

        await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.GatewayTimeout, code: "timeout");
        output.WriteLine($"504 after {clock.Elapsed.TotalSeconds:0.00} s with stream_timeout 1 s, first_token_timeout 120 s");
        Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(60));
    }

    [Fact]
    public async Task StreamStallsMidAnswer_EndsWithTimeoutErrorFrame()
    {
        await using var cluster = await StartAsync(SimFault.HangMid, new Dictionary<string, string> { ["idle_timeout"] = "1" });

        using var response = await SendAsync(cluster, stream: true);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        var events = await sse.ReadAllEventsAsync();
        Assert.DoesNotContain("[DONE]", events);
        Assert.True(events.Count >= 2, $"Expected content frames, then an error frame:\n{sse.Raw}");
        OpenAiErrorAssert.IsErrorJson(events[^1], code: "timeout");
        await Eventually.UntilAsync(cluster.Simulators[0].Control.GetStatsAsync, s => s.Cancelled == 1,
            "the stalled upstream request to be closed by the router");
    }

    private Task<Cluster> StartAsync(string fault, Dictionary<string, string> router) =>
        Cluster.StartAsync(output,
            [new SimulatorOptions { Fault = fault, FaultAfterTokens = 2, Tokens = 8 }],
            sims => new RouterConfig
            {
                Deployments = [new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "sim-a")],
                Router = router,
            });

    private static Task<HttpResponseMessage> SendAsync(Cluster cluster, bool stream) =>
        cluster.Router.Http.SendStreamingAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello", stream)));
}
