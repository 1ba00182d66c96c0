using LlmRouter.Tests.Infrastructure;
using LlmRouter.Tests.Keys;
using Xunit.Abstractions;
using RouterProcess = LlmRouter.Tests.Infrastructure.RouterProcess;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>
/// Postgres stopped while two replicas serve a key: the key keeps working from the caches, a key never seen gets 503
/// (it may be valid: never 401), and every request served meanwhile is in the books exactly once after the restart.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class DatabaseOutageTests(ITestOutputHelper output)
{
    [Fact]
    public async Task PostgresStoppedDuringTraffic_CachedKeyServes_NewKeyGets503_EveryRowStoredOnce()
    {
        await using var stack = await KeyedStack.StartAsync(new StackOptions
        {
            Simulator = new SimulatorOptions { Models = [KeyedStack.ChatModel, KeyedStack.CodeModel], MaxParallel = 64, FirstTokenDelayMs = 10, TokenIntervalMs = 5 },
        });
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
        var (a, b) = (stack.Routers[0], stack.Routers[1]);
        var cached = await KeyedStack.MintAsync(a, new { alias = "busy" });
        var uncached = await KeyedStack.MintAsync(a, new { alias = "never-used" });

        var traffic = KeyTraffic.Start(() => stack.Routers, cached.Secret, workers: 4);
        await traffic.WaitForAsync(20);
        await stack.Postgres.StopAsync();
        var atStop = traffic.Count;
        try
        {
            // A key no replica has seen cannot be checked: 503 with Retry-After, asked several times during the outage.
            for (var round = 0; round < 3; round++)
            {
                foreach (var router in new[] { a, b })
                {
                    var answer = await KeyedClient.ChatAsync(router, uncached.Secret, new ChatCall { MaxTokens = 8 });
                    Assert.True(answer is { Status: 503, Code: "key_check_unavailable" }, $"uncached key while Postgres is down: {answer}");
                    Assert.NotNull(answer.Header("Retry-After"));
                }
                await traffic.WaitForAsync(atStop + 15 * (round + 1));
            }
        }
        finally
        {
            await stack.Postgres.StartAgainAsync();
        }
        var restarted = System.Diagnostics.Stopwatch.StartNew();
        var duringOutage = traffic.Count - atStop;
        await traffic.WaitForAsync(traffic.Count + 20);
        var answers = await traffic.StopAsync();

        Assert.All(answers, r => Assert.True(r is { Status: 200, Completed: true }, $"cached key during the outage: {r}"));
        output.WriteLine($"MEASURED outage: {answers.Count} requests served, {duringOutage} of them while Postgres was down");

        // Spilled rows are replayed once Postgres is back: every request exactly once, nothing else.
        var rows = await Eventually.UntilAsync(() => stack.Usage.ForKeyOrEmptyAsync(cached.Id), r => r.Count >= answers.Count,
            $"{answers.Count} usage rows after the restart", TimeSpan.FromSeconds(60));
        output.WriteLine($"MEASURED every row in Postgres {restarted.ElapsedMilliseconds} ms after it was back (the writers retry with backoff up to 5 s)");
        var perRequest = rows.GroupBy(r => r.ClientRequestId).ToDictionary(g => g.Key ?? "(none)", g => g.Count());
        Assert.All(answers, r => Assert.True(perRequest.GetValueOrDefault(r.RequestId) == 1,
            $"{r.RequestId}: {perRequest.GetValueOrDefault(r.RequestId)} rows"));
        Assert.Equal(answers.Count, rows.Count);
        Assert.Equal(rows.Count, rows.Select(r => r.Id).Distinct().Count());
        Assert.All(answers, r => Assert.Equal(r.TotalTokens, rows.Single(row => row.ClientRequestId == r.RequestId).TotalTokens));

        // The rollup counts each row once too, and the admin API reports it.
        var expected = new RollupTotals(answers.Count, answers.Sum(r => (long)r.PromptTokens), answers.Sum(r => (long)r.CompletionTokens), 0);
        Assert.Equal(expected, await stack.Usage.RollupForKeyAsync(cached.Id));
        using var admin = KeyedStack.AdminClient(b);
        var (status, usage) = await admin.GetJsonAsync($"admin/usage?key_id={cached.Id}");
        Assert.True(status == 200, $"admin usage: {status} {usage}");
        var totals = usage.GetProperty("totals");
        Assert.Equal(answers.Count, totals.GetProperty("requests").GetInt64());
        Assert.Equal(answers.Sum(r => (long)r.TotalTokens), totals.GetProperty("total_tokens").GetInt64());

        // And the key nobody could check is accepted once Postgres answers again.
        foreach (var router in new[] { a, b })
        {
            await Eventually.UntilAsync(() => KeyedClient.ChatAsync(router, uncached.Secret, new ChatCall { MaxTokens = 8 }),
                r => r.Status == 200, "the never-used key accepted after the restart", TimeSpan.FromSeconds(30));
        }
    }
}
