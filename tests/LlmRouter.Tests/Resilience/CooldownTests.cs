using System.Net;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// A deployment that failed <c>allowed_fails</c> times is taken out for <c>cooldown_time</c>, and the cooldown is
/// shared: once one replica has seen it fail, neither replica sends it anything more.
/// </summary>
public sealed class CooldownTests(ITestOutputHelper output)
{
    private const int AfterFailure = 20;

    [Fact]
    public async Task AllowedFailsOne_AfterFirstFailure_NoReplicaSendsToItDuringCooldown()
    {
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions { Fault = SimFault.ErrorBefore }, new SimulatorOptions()],
            sims => new RouterConfig
            {
                Deployments =
                [
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "failing"),
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[1].ApiBase, "healthy"),
                ],
                // A cooldown far longer than the test, so "comes back on its own" cannot blur the count.
                Router = new Dictionary<string, string> { ["allowed_fails"] = "1", ["cooldown_time"] = "300" },
            },
            routers: 2, redis: true);
        var failing = cluster.Simulators[0].Control;

        // Ties are broken at random: send through replica 1 until one request has met the failing deployment.
        await Eventually.UntilAsync(
            async () =>
            {
                await SendOkAsync(cluster.Routers[0]);
                return (await failing.GetStatsAsync()).Received;
            },
            n => n > 0, "a request to meet the failing deployment");

        for (var i = 0; i < AfterFailure; i++)
        {
            await SendOkAsync(cluster.Routers[i % 2]);
        }

        var stats = await failing.GetStatsAsync();
        Assert.True(stats.Received == 1, $"The failing deployment got {stats.Received} requests; after its first failure it should get none.");

        // The replica that saw the failure says which deployment is out and for how long, once for both replicas.
        var warning = await cluster.Routers[0].Process.WaitForLineAsync(IsCooldownWarning, TimeSpan.FromSeconds(20), "the cooldown warning");
        Assert.Contains("gets no requests for 300 s: 1 failed within", warning);
        Assert.Single(cluster.Routers.SelectMany(r => r.Output.Lines()), IsCooldownWarning);
    }

    private static bool IsCooldownWarning(string line) => line.Contains("Deployment failing (", StringComparison.Ordinal);

    private static async Task SendOkAsync(RouterProcess router)
    {
        using var response = await router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello")));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {body}");
        Assert.Equal("healthy", response.Header("x-llmrouter-backend"));
    }
}
