using System.Diagnostics;
using LlmRouter.LiveState;
using LlmRouter.Tests.Infrastructure;
using LlmRouter.Tests.Services;
using Xunit.Abstractions;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>
/// Redis restarted without persistence in the middle of a quota period: the replicas notice the lost state and
/// rebuild the key's counters from the usage in Postgres, so what was spent before the restart still counts. And Redis
/// down with two replicas serving one key: each counts on its own and holds the key to its share of what was left, so
/// the two together do not let through more than the key's quota.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class RedisStateLossTests(ITestOutputHelper output)
{
    private const int Quota = 1000;
    private const int MaxTokens = 90;

    /// <summary>Two replicas whose every answer uses its whole max_tokens: 92 tokens, reserved as 97 (the prompt's estimate errs high).</summary>
    private static Task<KeyedStack> StartAsync(int? tokenIntervalMs = null) => KeyedStack.StartAsync(new StackOptions
    {
        Simulator = new SimulatorOptions { Models = [KeyedStack.ChatModel, KeyedStack.CodeModel], MaxParallel = 64, Tokens = 500, TokenIntervalMs = tokenIntervalMs },
    });

    [Fact]
    public async Task RedisRestartedMidPeriod_QuotaStillCountsTokensSpentBefore_NeverOvershot()
    {
        await using var stack = await StartAsync();
        try
        {
            await RunAsync(stack);
        }
        finally
        {
            stack.WriteLogs(output);
        }
    }

    private async Task RunAsync(KeyedStack stack)
    {
        var routers = stack.Routers;
        var key = await KeyedStack.MintAsync(routers[0], new { alias = "mid-period", max_tokens = Quota, budget_duration = "1d" });
        var before = new List<ChatAnswer>();
        for (var i = 0; i < 5; i++) before.Add(await KeyedClient.ChatAsync(routers[i % 2], key.Secret, new ChatCall { MaxTokens = MaxTokens }));
        Assert.All(before, r => Assert.True(r.Status == 200, r.ToString()));
        var spent = before.Sum(r => r.TotalTokens);
        // The rebuild reads Postgres: wait until the writers have put these rows there.
        await Eventually.UntilAsync(() => stack.Usage.ForKeyAsync(key.Id), rows => rows.Sum(r => r.TotalTokens) == spent, $"{spent} tokens in the usage table");

        var marks = routers.Select(r => r.Output.Mark()).ToArray();
        var clock = Stopwatch.StartNew();
        await stack.Redis.StopAsync();
        await stack.Redis.StartAgainAsync();
        for (var i = 0; i < routers.Count; i++)
        {
            var (router, mark) = (routers[i], marks[i]);
            await Eventually.UntilAsync(() => Task.FromResult(router.Output.Lines(mark).Any(l => l.Contains("Redis connection restored", StringComparison.Ordinal))),
                seen => seen, $"router {i + 1} to reconnect to Redis", TimeSpan.FromSeconds(30));
        }
        var reconnected = clock.Elapsed;
        // Give an eager rebuild the time to land before the next request, so this test does not race it. Only a wait:
        // whether the quota holds is decided by the requests below, however the router rebuilds.
        var counter = LiveKeys.KeyQuota(key.Id, TimeBuckets.Period(key.CreatedAt, TimeSpan.FromDays(1), DateTimeOffset.UtcNow).Bucket);
        var rebuilt = await WaitForCounterAsync(stack.Redis, counter, spent, TimeSpan.FromSeconds(10));
        output.WriteLine($"MEASURED Redis restart: replicas reconnected after {reconnected.TotalMilliseconds:F0} ms; quota counter " +
                         (rebuilt is { } at ? $"rebuilt {at.TotalMilliseconds:F0} ms after the restart began" : "not rebuilt in Redis within 10 s"));

        var after = new List<ChatAnswer>();
        for (var i = 0; i < 20 && after.All(r => r.Status == 200); i++)
            after.Add(await KeyedClient.ChatAsync(routers[i % 2], key.Secret, new ChatCall { MaxTokens = MaxTokens }));
        var refused = after[^1];
        var served = after.Count(r => r.Status == 200);
        output.WriteLine($"MEASURED {spent} tokens spent before the restart; {served} answers served after it");
        Assert.True(refused is { Status: 429, Code: "insufficient_quota" }, $"after the restart: {refused}");

        var rows = await Eventually.UntilAsync(() => stack.Usage.ForKeyAsync(key.Id), r => r.Count == before.Count + after.Count,
            "every request's usage row");
        var used = rows.Sum(r => r.TotalTokens);
        Assert.True(used <= Quota, $"the quota of {Quota} was overshot after Redis lost its state: {used} tokens served ({spent} before the restart, " +
                                   $"{used - spent} after), so the counters started again from zero");
        Assert.True(Quota - used < before[0].TotalTokens, $"refused with {Quota - used} tokens left, enough for another answer: counted twice?");
    }

    [Fact]
    public async Task RedisFlushedWhileAnswersAreInFlight_TheirTokensStillCount_NeverOvershot()
    {
        // 90 tokens 30 ms apart: each answer takes about 2.7 s, long enough to flush Redis under it.
        await using var stack = await StartAsync(tokenIntervalMs: 30);
        try
        {
            var router = stack.Routers[0];
            var key = await KeyedStack.MintAsync(router, new { alias = "in-flight", max_tokens = Quota, budget_duration = "1d" });
            var inFlight = Enumerable.Range(0, 5).Select(_ => KeyedClient.ChatAsync(router, key.Secret, new ChatCall { MaxTokens = MaxTokens })).ToArray();
            await Eventually.UntilAsync(stack.Simulator.Control.GetStatsAsync, s => s.Active == 5, "five answers under way");

            // Their reservations go with Redis's state; the next request rebuilds the key's counters from Postgres, which
            // has none of them yet.
            await stack.Redis.CliNumberAsync("FLUSHALL");
            var answers = new List<ChatAnswer> { await KeyedClient.ChatAsync(router, key.Secret, new ChatCall { MaxTokens = MaxTokens }) };
            answers.AddRange(await Task.WhenAll(inFlight));
            Assert.All(answers, r => Assert.True(r.Status == 200, r.ToString()));
            for (var i = 0; i < 20 && answers[^1].Status == 200; i++)
                answers.Add(await KeyedClient.ChatAsync(router, key.Secret, new ChatCall { MaxTokens = MaxTokens }));

            Assert.True(answers[^1] is { Status: 429, Code: "insufficient_quota" }, $"last: {answers[^1]}");
            var used = answers.Sum(r => r.TotalTokens);
            output.WriteLine($"MEASURED {answers.Count(r => r.Status == 200)} answers, {used} tokens served of a quota of {Quota}");
            Assert.True(used <= Quota, $"the quota of {Quota} was overshot: {used} tokens served (the answers in flight at the flush went uncounted)");
            Assert.True(Quota - used < answers[0].TotalTokens, $"refused with {Quota - used} tokens left, enough for another answer");
        }
        finally
        {
            stack.WriteLogs(output);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OneReplicaNoticesTheLoss_TheOtherHearsAtOnce_NotAtItsNextHeartbeat(bool afterRedisRestarted)
    {
        // A heartbeat every 100 s (a third of lease_ttl): within the wait below, only the message can tell the second replica.
        await using var stack = await KeyedStack.StartAsync(new StackOptions { Router = new Dictionary<string, string> { ["lease_ttl"] = "300" } });
        try
        {
            var (first, second) = (stack.Routers[0], stack.Routers[1]);
            var key = await KeyedStack.MintAsync(first, new { alias = "told", max_tokens = 100_000 });
            var before = await KeyedClient.ChatAsync(first, key.Secret, new ChatCall());
            Assert.True(before.Status == 200, before.ToString());
            if (afterRedisRestarted)
            {
                // Both lose their connection, and their subscription with it; each notices the loss as it reconnects.
                var restart = stack.Routers.Select(r => r.Output.Mark()).ToArray();
                await stack.Redis.StopAsync();
                await stack.Redis.StartAgainAsync();
                await Eventually.UntilAsync(() => Task.FromResult(stack.Routers.Select((r, i) => r.Output.Lines(restart[i])).All(lines => lines.Any(l => l.Contains("Redis lost its state", StringComparison.Ordinal)))),
                    seen => seen, "both replicas to reconnect", TimeSpan.FromSeconds(30));
            }
            // Each replica's subscription connection reconnects on its own schedule (StackExchange.Redis retries about once a
            // second), and a message published before the second one is back there is not heard.
            await Eventually.UntilAsync(() => stack.Redis.SubscribersAsync((string)LlmRouter.LiveState.RedisLiveState.StateLostChannel!), n => n == 2,
                "both replicas to listen for state-loss messages", TimeSpan.FromSeconds(30));
            var mark = second.Output.Mark();

            await stack.Redis.CliNumberAsync("FLUSHALL");
            // The first replica's next request of a key with limits rebuilds the key's counters: that is when it notices.
            var after = await KeyedClient.ChatAsync(first, key.Secret, new ChatCall());

            Assert.True(after.Status == 200, after.ToString());
            await Eventually.UntilAsync(() => Task.FromResult(second.Output.Lines(mark).Any(l => l.Contains("Redis lost its state", StringComparison.Ordinal))),
                seen => seen, "the second replica to hear of the loss", TimeSpan.FromSeconds(10));
        }
        finally
        {
            stack.WriteLogs(output);
        }
    }

    /// <summary>Polls a Redis counter with redis-cli until it reaches <paramref name="atLeast"/>; returns when, or null at the deadline.</summary>
    private static async Task<TimeSpan?> WaitForCounterAsync(RedisServer redis, string key, long atLeast, TimeSpan timeout)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            await Eventually.UntilAsync(() => redis.CliNumberAsync("GET", key), v => v >= atLeast, $"{key} >= {atLeast}", timeout);
            return clock.Elapsed;
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    [Fact]
    public async Task RedisDown_TwoReplicasServeOneKey_TogetherTheyStayWithinItsQuota()
    {
        await using var stack = await StartAsync();
        try
        {
            var routers = stack.Routers;
            var key = await KeyedStack.MintAsync(routers[0], new { alias = "outage-share", max_tokens = Quota });
            // Each replica counts the replicas at every lease heartbeat: both must have seen the other before Redis goes.
            foreach (var router in routers)
                await Eventually.UntilAsync(() => router.MetricAsync("llmrouter_replicas"), n => n == 2, "each replica to count two", TimeSpan.FromSeconds(30));

            await stack.Redis.StopAsync();
            var answers = new List<ChatAnswer>();
            // One request at a time, alternating, until both replicas refuse.
            for (var i = 0; i < 30 && answers.TakeLast(2).Count(a => a.Status != 200) < 2; i++)
                answers.Add(await KeyedClient.ChatAsync(routers[i % 2], key.Secret, new ChatCall { MaxTokens = MaxTokens }));

            var served = answers.Where(a => a.Status == 200).ToList();
            var used = served.Sum(a => a.TotalTokens);
            output.WriteLine($"MEASURED Redis down: {served.Count} answers, {used} tokens served of a quota of {Quota} by two replicas counting alone");
            Assert.All(answers.Where(a => a.Status != 200), a => Assert.True(a is { Status: 429, Code: "insufficient_quota" }, a.ToString()));
            // Alone, each would have served nearly the whole quota: about twice it together.
            Assert.True(used <= Quota, $"the quota of {Quota} was overshot while Redis was down: {used} tokens served");
            // Each replica served its half: not held to less than its share.
            Assert.True(served.Count >= 8, $"only {served.Count} answers ({used} tokens) served of a quota of {Quota}");
        }
        finally
        {
            stack.WriteLogs(output);
        }
    }
}
