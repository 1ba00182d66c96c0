using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// When every deployment is at <c>max_parallel_requests</c>, requests wait in a bounded queue instead of piling
/// onto Ollama; past the bound the client is told at once (503 <c>overloaded</c>, <c>Retry-After</c>), and a queued
/// request is served as soon as a slot frees.
/// </summary>
public sealed class QueueBoundTests(ITestOutputHelper output)
{
    [Fact]
    public async Task OneInFlightOneQueued_ThirdRefusedAtOnce_QueuedServedAfterRelease()
    {
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions()],
            sims => new RouterConfig
            {
                Deployments =
                [
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "sim-a") { Params = "max_parallel_requests: 1" },
                ],
                // A long queue wait, so a refusal that only came after waiting could not pass for an immediate one.
                Router = new Dictionary<string, string> { ["queue_size"] = "1", ["queue_timeout"] = "120" },
            });
        var simulator = cluster.Simulators[0].Control;
        await simulator.HoldAsync();

        var first = SendAsync(cluster.Router);
        await Eventually.UntilAsync(simulator.GetStatsAsync, s => s.Received == 1, "the first request at the simulator");
        await HeldQueue.OneQueuedOneRefusedAsync(simulator, first, () => SendAsync(cluster.Router));
    }

    private static Task<HttpResponseMessage> SendAsync(RouterProcess router) =>
        router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello")));
}
