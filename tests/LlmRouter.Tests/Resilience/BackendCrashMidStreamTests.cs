using System.Net;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// Once a stream has started the router cannot retry: when its backend dies the client must learn it from an
/// error frame and a stream that ends without <c>[DONE]</c>, never a clean-looking end.
/// </summary>
public sealed class BackendCrashMidStreamTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SimulatorKilledMidStream_StreamEndsWithErrorFrameAndNoDone()
    {
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions { Tokens = 1000, TokenIntervalMs = 50 }],
            sims => new RouterConfig
            {
                Deployments = [new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "sim-a")],
            });

        using var response = await cluster.Router.Http.SendStreamingAsync(
            Requests.Post("v1/chat/completions", Requests.Chat("chat", "Tell me a long story", stream: true)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        var first = await sse.ReadEventAsync();
        Assert.NotNull(first);
        Assert.DoesNotContain("\"error\"", first);

        await Cluster.KillAsync(cluster.Simulators[0].Process);
        var rest = await sse.ReadAllEventsAsync();

        Assert.True(rest.Count > 0, $"The stream ended without an error frame:\n{sse.Raw}");
        Assert.DoesNotContain("[DONE]", rest);
        var error = OpenAiErrorAssert.IsErrorJson(rest[^1], code: "backend_error");
        output.WriteLine($"error frame: {error.ToJsonString()}");
    }
}
