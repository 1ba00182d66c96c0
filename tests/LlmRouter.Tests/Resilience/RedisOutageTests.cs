using LlmRouter.LiveState;
using LlmRouter.Tests.Infrastructure;
using LlmRouter.Tests.Services;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// Redis going away mid-traffic costs no request: the router admits with process-local counts while it is gone,
/// and goes back to shared counts by itself once it returns (empty, as a Redis without persistence does).
/// </summary>
public sealed class RedisOutageTests(ITestOutputHelper output)
{
    private const int Concurrency = 8;
    private const int PerPhase = 60;

    [Fact]
    public async Task RedisStoppedAndStartedDuringLoad_NoFailedRequests_BackOnRedis()
    {
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions { FirstTokenDelayMs = 20, TokenIntervalMs = 5, Tokens = 4, MaxParallel = 16 }],
            sims => new RouterConfig
            {
                Deployments = [new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "sim-a")],
            },
            redis: true);
        var redis = cluster.Redis!;

        var load = ChatLoad.Start(cluster.Router, Concurrency);
        try
        {
            await load.WaitForFinishedAsync(PerPhase);
            Assert.True(await SharedAdmissionsAsync(redis) > 0, "The router never admitted through Redis before the outage.");

            await redis.StopAsync();
            var stoppedAt = load.Finished;
            await load.WaitForFinishedAsync(stoppedAt + PerPhase);

            await redis.StartAgainAsync();
            var restartedAt = load.Finished;
            // The restarted Redis is empty: any admission counted in it came after the router went back to it.
            await Eventually.UntilAsync(() => SharedAdmissionsAsync(redis), n => n > 0, "admissions counted in the restarted Redis",
                TimeSpan.FromSeconds(30));
            await load.WaitForFinishedAsync(Math.Max(load.Finished + PerPhase, 200));
            output.WriteLine($"{stoppedAt} requests before the outage, {restartedAt - stoppedAt} during it, {load.Finished - restartedAt} after");
        }
        finally
        {
            await load.StopAsync();
        }

        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} of {load.Finished} failed:\n{string.Join("\n", load.Failures.Take(10))}");
        Assert.True(load.Succeeded >= 200, $"Only {load.Succeeded} requests were sent.");
    }

    /// <summary>Requests admitted through Redis in its per-minute counters for the deployment.</summary>
    private static async Task<long> SharedAdmissionsAsync(RedisServer redis)
    {
        using var connection = await ConnectionMultiplexer.ConnectAsync($"{redis.Url},abortConnect=false");
        var server = connection.GetServer(redis.Url);
        var total = 0L;
        foreach (var key in server.Keys(pattern: LiveKeys.DeploymentRequests("sim-a", "*")))
        {
            total += (long)await connection.GetDatabase().StringGetAsync(key);
        }

        return total;
    }
}
