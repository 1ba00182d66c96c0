using LlmRouter.Tests.Infrastructure;
using Npgsql;
using Xunit.Abstractions;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>A router started with <c>maximum_spend_logs_retention_period</c> deletes the usage rows older than it, and only those.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class UsageRetentionEndToEndTests(ITestOutputHelper output)
{
    [Fact]
    public async Task RouterWithRetention_DeletesOlderRowsAtStart_KeepsRecentOnes()
    {
        await using var stack = await KeyedStack.StartAsync(new StackOptions { Routers = 1 });
        try
        {
            await using (var connection = new NpgsqlConnection(stack.Postgres.ConnectionString))
            {
                await connection.OpenAsync();
                await using var insert = new NpgsqlCommand("""
                    INSERT INTO usage (id, model, requested_model, status, duration_ms, started_at)
                    SELECT gen_random_uuid(), 'chat', 'chat', 200, 1, now() - make_interval(days => d)
                    FROM generate_series(1, 40) AS d
                    """, connection);
                await insert.ExecuteNonQueryAsync();
            }

            await stack.StartRouterAsync(new Dictionary<string, string> { ["maximum_spend_logs_retention_period"] = "30d" });

            // Days 1-29 stay; days 30-40 go (day 30 is a moment past the cutoff by the time the router looks).
            await Eventually.UntilAsync(() => CountAsync(stack, "started_at < now() - interval '30 days'"), n => n == 0,
                "the rows older than 30 days to be deleted");
            Assert.Equal(29, await CountAsync(stack, "true"));
        }
        finally
        {
            stack.WriteLogs(output);
        }
    }

    private static async Task<long> CountAsync(KeyedStack stack, string where)
    {
        await using var connection = new NpgsqlConnection(stack.Postgres.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"SELECT count(*) FROM usage WHERE {where}", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
