using LlmRouter.Usage;
using Npgsql;
using static LlmRouter.Tests.Usage.UsageTestData;

namespace LlmRouter.Tests.Usage;

/// <summary><c>maximum_spend_logs_retention_period</c>: old per-request rows go, recent ones and the rollups stay.</summary>
public sealed class UsageRetentionTests(UsagePostgres postgres) : IClassFixture<UsagePostgres>
{
    [Fact]
    public async Task OldRowsDeletedInBatches_RecentRowsAndRollupsKept()
    {
        var db = await postgres.CreateDatabaseAsync();
        // 12,000 rows of 2026-11-20 (more than two batches) and 50 of today.
        var old = Rows(12_000);
        var recent = Rows(50, seed: 1).Select(r => r with { Id = Guid.NewGuid(), StartedAt = DateTimeOffset.UtcNow }).ToList();
        using (var writer = Writer(db, SpillPath()))
        {
            await writer.StartAsync(default);
            foreach (var row in old.Concat(recent)) writer.Record(row);
            await WaitForRowsAsync(db, old.Count + recent.Count);
        }
        var rollupBefore = await RollupAsync(db);

        await using var source = NpgsqlDataSource.Create(db);
        var deleted = await UsageRetention.DeleteOlderThanAsync(source, DateTimeOffset.UtcNow.AddDays(-1), default);

        Assert.Equal(old.Count, deleted);
        Assert.Equal(recent.Count, await ScalarAsync(db, "SELECT count(*) FROM usage"));
        Assert.Equal(rollupBefore, await RollupAsync(db));
        Assert.Equal(0, await UsageRetention.DeleteOlderThanAsync(source, DateTimeOffset.UtcNow.AddDays(-1), default));
    }
}
