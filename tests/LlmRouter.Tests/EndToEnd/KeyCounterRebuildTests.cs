using LlmRouter.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>
/// A key's first burst of requests after its counters were lost (a restart, Redis flushed, a new period) while
/// Postgres answers slowly: the router reads the key's recorded usage once, and every request of the burst waits for
/// that one read instead of sending its own.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class KeyCounterRebuildTests(ITestOutputHelper output)
{
    private const int Burst = 12;

    /// <summary>Each of the two polls while Postgres is held: together under the router's 10 s read timeout.</summary>
    private static readonly TimeSpan PollLimit = TimeSpan.FromSeconds(4);

    [Fact]
    public async Task FirstBurstOfAKey_WhilePostgresIsSlow_ReadsItsUsageOnce_AndEveryRequestIsServed()
    {
        await using var stack = await KeyedStack.StartAsync(new StackOptions { Routers = 1 });
        try
        {
            var router = stack.Routers[0];
            var key = await KeyedStack.MintAsync(router, new { alias = "burst", rpm_limit = 1000 });
            var before = await router.MetricAsync("llmrouter_key_counter_rebuilds_total");

            // Postgres is slow: the rollup the rebuild reads is locked until this transaction ends.
            await using var connection = new NpgsqlConnection(stack.Postgres.ConnectionString);
            await connection.OpenAsync();
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var lockTable = new NpgsqlCommand("LOCK TABLE usage_hourly IN ACCESS EXCLUSIVE MODE", connection, transaction))
                await lockTable.ExecuteNonQueryAsync();

            var burst = Enumerable.Range(0, Burst).Select(_ => KeyedClient.ChatAsync(router, key.Secret, new ChatCall())).ToList();
            // The router's read gives up after 10 s (and the requests then go on with a guess): both polls together stay
            // well inside that, so a machine too slow for this test fails here, saying what did not come.
            await Eventually.UntilAsync(() => router.MetricAsync("llmrouter_key_counter_rebuilds_waiting"), waiting => waiting == Burst,
                $"all {Burst} requests to wait for the key's counters", PollLimit);

            Assert.Equal(1, await router.MetricAsync("llmrouter_key_counter_rebuilds_total") - before);
            await Eventually.UntilAsync(() => WaitingForTheLockAsync(stack.Postgres.ConnectionString), n => n > 0, "the read to reach Postgres", PollLimit);
            Assert.Equal(1, await WaitingForTheLockAsync(stack.Postgres.ConnectionString));

            await transaction.CommitAsync();
            var answers = await Task.WhenAll(burst);
            Assert.All(answers, a => Assert.True(a.Status == 200, a.ToString()));
            Assert.Equal(1, await router.MetricAsync("llmrouter_key_counter_rebuilds_total") - before);
            Assert.Equal(0, await router.MetricAsync("llmrouter_key_counter_rebuilds_waiting"));
        }
        finally
        {
            stack.WriteLogs(output);
        }
    }

    /// <summary>Statements in Postgres waiting for a lock: the router's reads blocked behind the test's.</summary>
    private static async Task<long> WaitingForTheLockAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE '%usage_hourly%'", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
