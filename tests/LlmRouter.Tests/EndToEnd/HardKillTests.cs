using LlmRouter.Tests.Infrastructure;
using LlmRouter.Tests.Resilience;
using Xunit.Abstractions;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>
/// kill -9 (an OOM kill, a crash) with usage rows still in the writer's memory: the crash journal keeps them, and the
/// next start of a router with the same spill path stores every one of them, once.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class HardKillTests(ITestOutputHelper output)
{
    [Fact]
    public async Task KillNine_WithRowsOnlyInMemory_NextStartStoresEveryCompletedRequestsRowOnce()
    {
        // A flush interval far longer than the test: rows can reach Postgres only through the journal.
        var spill = Path.Combine(TestTemp.NewDirectory("hard-kill"), "spill.jsonl");
        await using var stack = await KeyedStack.StartAsync(new StackOptions
        {
            Routers = 1,
            General = new Dictionary<string, string> { ["usage_flush_interval"] = "600", ["usage_spill_path"] = spill },
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
        var key = await KeyedStack.MintAsync(stack.Routers[0], new { alias = "hard-kill" });
        var traffic = KeyTraffic.Start(() => stack.Routers, key.Secret, workers: 4);
        await traffic.WaitForAsync(40);
        var answers = await traffic.StopAsync();
        var completed = answers.Where(a => a.Completed).ToList();
        Assert.Equal(answers.Count, completed.Count);
        Assert.Empty(await stack.Usage.ForKeyOrEmptyAsync(key.Id));

        await Cluster.KillAsync(stack.Routers[0].Process);
        var again = await stack.StartRouterAsync();

        var rows = await Eventually.UntilAsync(() => stack.Usage.ForKeyOrEmptyAsync(key.Id), r => r.Count >= completed.Count,
            $"the {completed.Count} rows of the requests answered before the kill");
        var perRequest = rows.GroupBy(r => r.ClientRequestId ?? "(none)").ToDictionary(g => g.Key, g => g.ToList());
        Assert.All(completed, a => Assert.True(perRequest.GetValueOrDefault(a.RequestId)?.Count == 1,
            $"{a.RequestId} was answered before the kill but has {perRequest.GetValueOrDefault(a.RequestId)?.Count ?? 0} usage rows"));
        Assert.Equal(completed.Count, rows.Count);
        Assert.All(completed, a => Assert.Equal(a.TotalTokens, perRequest[a.RequestId][0].TotalTokens));
        await again.Process.WaitForLineAsync(l => l.Contains($"Recovered {completed.Count} usage rows from the crash journal", StringComparison.Ordinal),
            TimeSpan.FromSeconds(10), "the recovery to be logged");
        output.WriteLine($"MEASURED hard kill: {completed.Count} answered requests, {rows.Count} rows after the restart");
    }
}
