using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>
/// Redis down with two replicas serving one key: each replica counts on its own, and holds the key to its share of
/// what was left, so the two together do not let through more than the key's quota.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class RedisOutageLimitsTests(ITestOutputHelper output)
{
    private const int Quota = 1000;
    private const int MaxTokens = 90;

    [Fact]
    public async Task RedisDown_TwoReplicasServeOneKey_TogetherTheyStayWithinItsQuota()
    {
        // Every answer uses its whole max_tokens: 92 tokens, reserved as 97 (the prompt's estimate errs high).
        await using var stack = await KeyedStack.StartAsync(new StackOptions
        {
            Simulator = new SimulatorOptions { Models = [KeyedStack.ChatModel, KeyedStack.CodeModel], MaxParallel = 64, Tokens = 500 },
        });
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
