using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// <c>max_parallel_requests_per_backend</c> caps what one Ollama server has in flight over all its models together: two
/// groups on one server share the cap, where each deployment's own <c>max_parallel_requests</c> would not.
/// </summary>
public sealed class BackendLimitTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TwoModelsOneServer_ShareTheServersLimit(bool redis)
    {
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions { Models = [RouterEnvironment.ChatModel, RouterEnvironment.CodeModel] }],
            sims => new RouterConfig
            {
                Deployments =
                [
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "sim-chat"),
                    new("code", $"ollama_chat/{RouterEnvironment.CodeModel}", sims[0].ApiBase, "sim-code"),
                ],
                Router = new Dictionary<string, string>
                {
                    ["max_parallel_requests_per_backend"] = "1", ["queue_size"] = "1", ["queue_timeout"] = "120",
                },
            },
            redis: redis);
        var simulator = cluster.Simulators[0].Control;
        await simulator.HoldAsync();

        var chat = SendAsync(cluster.Router, "chat");
        await Eventually.UntilAsync(simulator.GetStatsAsync, s => s.Received == 1, "the chat request at the simulator");
        // The server is at its limit though "code" has nothing in flight: one code request waits, the other is refused.
        await HeldQueue.OneQueuedOneRefusedAsync(simulator, chat, () => SendAsync(cluster.Router, "code"));
    }

    private static Task<HttpResponseMessage> SendAsync(RouterProcess router, string model) =>
        router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat(model, "hello")));
}
