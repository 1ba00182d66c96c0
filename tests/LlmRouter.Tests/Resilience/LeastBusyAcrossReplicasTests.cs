using System.Net;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// Two router replicas on one Redis spread "chat" by the in-flight count they share, not each by its own. The
/// simulators hold every answer, so each request stays in flight and where it went can be read off their stats.
/// </summary>
public sealed class LeastBusyAcrossReplicasTests(ITestOutputHelper output)
{
    private const int Sequential = 40;
    private const int Burst = 20;

    [Fact]
    public async Task TwoReplicasOneRedis_RequestsHeld_SpreadWithinOneAtEveryStep()
    {
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions { MaxParallel = 128 }, new SimulatorOptions { MaxParallel = 128 }],
            sims => new RouterConfig
            {
                Deployments =
                [
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "sim-a"),
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[1].ApiBase, "sim-b"),
                ],
                Router = new Dictionary<string, string> { ["routing_strategy"] = "least-busy" },
            },
            routers: 2, redis: true);
        await Task.WhenAll(cluster.Simulators.Select(s => s.Control.HoldAsync()));
        var responses = new List<Task<HttpResponseMessage>>();

        // One at a time, alternating replicas: each must go to whichever simulator has fewer in flight across both
        // replicas. Replicas that counted only their own would, every second pair, each break a tie at random and
        // put both odd requests on one side half the time: over 40 requests they pass about once in a thousand runs.
        var worstStep = 0L;
        for (var i = 0; i < Sequential; i++)
        {
            responses.Add(SendAsync(cluster.Routers[i % 2]));
            var received = await WaitForReceivedAsync(cluster, i + 1);
            worstStep = Math.Max(worstStep, Math.Abs(received[0] - received[1]));
            Assert.True(worstStep <= 1, $"After request {i + 1} the simulators hold {received[0]} and {received[1]} in flight.");
        }

        // All at once, still alternating: the admission script is atomic, so even racing replicas stay within one.
        for (var i = 0; i < Burst; i++)
        {
            responses.Add(SendAsync(cluster.Routers[i % 2]));
        }

        var final = await WaitForReceivedAsync(cluster, Sequential + Burst);
        var imbalance = Math.Abs(final[0] - final[1]);
        output.WriteLine($"MEASURED least-busy imbalance: worst step {worstStep}, final {imbalance} ({final[0]} vs {final[1]} of {Sequential + Burst})");
        Assert.True(imbalance <= 1, $"Held in flight: simulator A {final[0]}, B {final[1]}.");

        await Task.WhenAll(cluster.Simulators.Select(s => s.Control.ReleaseAsync()));
        var answered = await Task.WhenAll(responses);
        Assert.All(answered, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        // The router's own account of where each went agrees with the simulators'.
        var toA = answered.Count(r => r.Header("x-llmrouter-backend") == "sim-a");
        Assert.Equal(final[0], toA);
        foreach (var response in answered)
        {
            response.Dispose();
        }
    }

    private static Task<HttpResponseMessage> SendAsync(RouterProcess router) =>
        router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello")));

    private static Task<long[]> WaitForReceivedAsync(Cluster cluster, int total) =>
        Eventually.UntilAsync(cluster.ReceivedAsync, r => r.Sum() >= total, $"{total} requests at the simulators");
}
