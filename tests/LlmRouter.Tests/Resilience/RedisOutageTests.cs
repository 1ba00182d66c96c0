using System.Diagnostics;
using LlmRouter.LiveState;
using LlmRouter.Tests.Infrastructure;
using LlmRouter.Tests.Services;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// Redis going away mid-traffic costs no request: the router admits with process-local counts while it is gone,
/// and goes back to shared counts by itself once it returns (empty, as a Redis without persistence does). The same
/// when Redis is not there yet at start-up, and when it freezes with its connections open.
/// </summary>
public sealed class RedisOutageTests(ITestOutputHelper output)
{
    private const int Concurrency = 8;
    private const int PerPhase = 60;

    [Fact]
    public async Task RedisStoppedAndStartedDuringLoad_NoFailedRequests_BackOnRedis()
    {
        await using var cluster = await StartClusterAsync();
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

        AssertNoFailures(load);
        Assert.True(load.Succeeded >= 200, $"Only {load.Succeeded} requests were sent.");
    }

    /// <summary>
    /// A Redis that is frozen rather than gone keeps its connection open and answers nothing. The router stops waiting
    /// for it after redis_timeout (1 s by default) and admits with process-local counts; before, every request waited as long as Redis did.
    /// </summary>
    [Fact]
    public async Task RedisFrozenDuringLoad_NoFailedRequests()
    {
        await using var cluster = await StartClusterAsync();
        var redis = cluster.Redis!;
        var load = ChatLoad.Start(cluster.Router, Concurrency);
        try
        {
            await load.WaitForFinishedAsync(PerPhase);
            await redis.PauseAsync();
            var frozenAt = load.Finished;
            await load.WaitForFinishedAsync(frozenAt + PerPhase, TimeSpan.FromSeconds(60));
            await redis.ResumeAsync();
            output.WriteLine($"{frozenAt} requests before Redis froze, {load.Finished - frozenAt} while it was frozen");
        }
        finally
        {
            await load.StopAsync();
        }
        AssertNoFailures(load);
    }

    /// <summary>One router with Redis in front of one quick simulator.</summary>
    private Task<Cluster> StartClusterAsync() => Cluster.StartAsync(output,
        [new SimulatorOptions { FirstTokenDelayMs = 50, TokenIntervalMs = 5, Tokens = 4, MaxParallel = 16 }],
        sims => new RouterConfig
        {
            Deployments = [new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "sim-a")],
        },
        redis: true);

    private static void AssertNoFailures(ChatLoad load) =>
        Assert.True(load.Failures.Count == 0, $"{load.Failures.Count} of {load.Finished} failed:\n{string.Join("\n", load.Failures.Take(10))}");

    [Fact]
    public async Task RedisDownAtStart_ServesWithLocalCounts_JoinsRedisOnceItIsUp()
    {
        await using var redis = await RedisServer.StartAsync();
        await redis.StopAsync();
        var clock = Stopwatch.StartNew();
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions()],
            sims => new RouterConfig
            {
                Deployments = [new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "sim-a")],
                General = new Dictionary<string, string> { ["redis_url"] = $"redis://{redis.Url}" },
            });
        output.WriteLine($"MEASURED start-up with Redis down: router live {clock.Elapsed.TotalSeconds:0.0} s after the cluster began starting");

        var chat = cluster.Router.CreateOpenAIClient().GetChatClient("chat");
        for (var i = 0; i < 5; i++)
        {
            await chat.CompleteChatAsync([new OpenAI.Chat.UserChatMessage("hello")]);
        }

        await redis.StartAgainAsync();
        await Eventually.UntilAsync(
            async () =>
            {
                await chat.CompleteChatAsync([new OpenAI.Chat.UserChatMessage("hello")]);
                return await SharedAdmissionsAsync(redis);
            },
            n => n > 0, "an admission counted in Redis once it is up", TimeSpan.FromSeconds(30));
    }

    /// <summary>
    /// Requests admitted through Redis, from its per-minute counters for the deployment. Asked with redis-cli: a fresh
    /// connection per look, so nothing in the test has to reconnect after the restart.
    /// </summary>
    private static Task<long> SharedAdmissionsAsync(RedisServer redis)
    {
        const string sum = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do n = n + tonumber(redis.call('GET', k)) end return n";
        return redis.CliNumberAsync("EVAL", sum, "0", LiveKeys.DeploymentRequests("sim-a", "*"));
    }
}
