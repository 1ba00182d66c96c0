using System.Net;
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
        // Which of the next two takes the one queue place is a race; exactly one must, and the other is refused.
        var second = SendAsync(cluster.Router);
        var third = SendAsync(cluster.Router);
        var refusedTask = await Task.WhenAny(second, third).WaitAsync(TimeSpan.FromSeconds(30));
        var queued = refusedTask == second ? third : second;

        using (var refused = await refusedTask)
        {
            await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.ServiceUnavailable, code: "overloaded");
            Assert.NotNull(refused.Headers.RetryAfter);
        }

        Assert.False(first.IsCompleted || queued.IsCompleted, "A request that should be held or queued has already been answered.");
        Assert.Equal(1, (await simulator.GetStatsAsync()).Received);

        await simulator.ReleaseAsync();
        using var firstResponse = await first;
        using var queuedResponse = await queued;
        Assert.Equal(HttpStatusCode.OK, firstResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, queuedResponse.StatusCode);
        Assert.Equal(2, (await simulator.GetStatsAsync()).Completed);
    }

    private static Task<HttpResponseMessage> SendAsync(RouterProcess router) =>
        router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello")));
}
