using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>
/// SIGTERM during traffic: the router drains what is in flight, and its usage writer flushes on the way out, so
/// every request a client saw completed is in Postgres once the process has exited, and no slot is left held in Redis.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class GracefulShutdownTests(ITestOutputHelper output)
{
    [Fact]
    public async Task SigtermDuringTraffic_EveryCompletedRequestsRowIsInPostgresAfterExit()
    {
        // A flush interval far longer than the test: rows reach Postgres only through the flush at shutdown.
        await using var stack = await KeyedStack.StartAsync(new StackOptions
        {
            Routers = 1,
            Simulator = new SimulatorOptions { Models = [KeyedStack.ChatModel, KeyedStack.CodeModel], MaxParallel = 64, FirstTokenDelayMs = 50, TokenIntervalMs = 20 },
            General = new Dictionary<string, string> { ["usage_flush_interval"] = "60", ["drain_timeout"] = "15" },
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
        var router = stack.Routers[0];
        var key = await KeyedStack.MintAsync(router, new { alias = "shutdown" });
        var traffic = KeyTraffic.Start(() => stack.Routers, key.Secret, workers: 6, stopWhenUnreachable: true);
        await traffic.WaitForAsync(12);
        // Still only in the writer's memory, so what follows proves the flush at shutdown.
        Assert.Empty(await stack.Usage.ForKeyAsync(key.Id));

        var clock = System.Diagnostics.Stopwatch.StartNew();
        await router.Process.TerminateAsync();
        var exit = await router.Process.WaitForExitAsync(TimeSpan.FromSeconds(30));
        var exited = clock.Elapsed;
        var answers = await traffic.StopAsync();
        Assert.Equal(0, exit);
        // Nothing is left counted in Redis: every settle landed, and every admission taken ahead was given back.
        Assert.Equal(0, await stack.Redis.DeploymentLeasesAsync());

        var completed = answers.Where(r => r.Completed).ToList();
        var failed = answers.Where(r => !r.Completed).ToList();
        output.WriteLine($"MEASURED shutdown: {completed.Count} requests completed, {failed.Count} refused or unreachable once the router stopped; " +
                         $"exited {exited.TotalMilliseconds:F0} ms after SIGTERM");
        Assert.All(failed, r => Assert.True(r.Status is 0 or 503, $"a request neither completed nor refused for the shutdown: {r}"));
        var rows = await stack.Usage.ForKeyAsync(key.Id);
        var perRequest = rows.GroupBy(r => r.ClientRequestId ?? "(none)").ToDictionary(g => g.Key, g => g.Count());
        Assert.All(completed, r => Assert.True(perRequest.GetValueOrDefault(r.RequestId) == 1,
            $"{r.RequestId} completed but has {perRequest.GetValueOrDefault(r.RequestId)} usage rows after the shutdown"));
        var sent = answers.Select(r => r.RequestId).ToHashSet();
        Assert.All(rows, r => Assert.True(r.ClientRequestId is { } id && sent.Contains(id), $"a row for a request nobody sent: {r}"));
        Assert.All(completed, r => Assert.Equal(r.TotalTokens, rows.Single(row => row.ClientRequestId == r.RequestId).TotalTokens));
    }
}
