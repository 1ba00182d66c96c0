using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// A backend dies while it is answering part of a load: requests it was working on, and those sent to it before
/// the router notices, are retried on the other deployment before any byte reached the client, and its cooldown
/// takes it out. The client sees no failure at all.
/// </summary>
public sealed class BackendCrashUnderLoadTests(ITestOutputHelper output)
{
    private const int Total = 200;
    private const int Concurrency = 16;

    [Fact]
    public async Task SimulatorKilledDuringLoad_NoClientVisibleFailures()
    {
        // Answers take tens of milliseconds, so the victim always has requests in flight when it dies.
        var slow = new SimulatorOptions { FirstTokenDelayMs = 20, TokenIntervalMs = 5, Tokens = 6, MaxParallel = 32 };
        await using var cluster = await Cluster.StartAsync(output, [slow, slow],
            sims => new RouterConfig
            {
                Deployments =
                [
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "sim-a"),
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[1].ApiBase, "sim-b"),
                ],
            });
        var victim = cluster.Simulators[0];

        var load = ChatLoad.Start(cluster.Router, Concurrency, Total);
        await load.WaitForFinishedAsync(Total / 4);
        // The router may send the next few requests to the other simulator; kill the victim the moment it is working.
        var before = await Eventually.UntilAsync(
            victim.Control.GetStatsAsync, s => s.Active > 0, "the victim working on a request", TimeSpan.FromSeconds(10));
        await Cluster.KillAsync(victim.Process);
        await load.Completion.WaitAsync(TimeSpan.FromSeconds(60));

        output.WriteLine($"victim had {before.Active} in flight when killed; {load.Retried} of {Total} requests were retried");
        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} of {Total} failed:\n{string.Join("\n", load.Failures.Take(10))}");
        Assert.Equal(Total, load.Succeeded);
        Assert.True(load.Retried > 0, "No request needed a retry, so the kill was never felt.");
    }
}
