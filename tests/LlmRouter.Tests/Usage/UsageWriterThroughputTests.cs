using System.Diagnostics;
using LlmRouter.Usage;
using Npgsql;
using Xunit.Abstractions;
using static LlmRouter.Tests.Usage.UsageTestData;

namespace LlmRouter.Tests.Usage;

[CollectionDefinition(nameof(UsageThroughput), DisableParallelization = true)]
public sealed class UsageThroughput;

/// <summary>
/// Measures rows per second into a local Postgres, alone on the machine (not in parallel with other tests).
/// Run: dotnet test tests/LlmRouter.Tests --filter "FullyQualifiedName~UsageWriterThroughput" --logger "console;verbosity=detailed"
/// The floor is far below the measured figure; it only catches a writer that has become per-row.
/// </summary>
[Collection(nameof(UsageThroughput))]
public sealed class UsageWriterThroughputTests(UsagePostgres postgres, ITestOutputHelper output) : IClassFixture<UsagePostgres>
{
    private const int Total = 200_000;
    private const double FloorRowsPerSecond = 5_000;

    [Theory]
    [InlineData(500)]
    [InlineData(5_000)]
    public async Task Store_BatchInsert_RowsPerSecond(int batchSize)
    {
        var db = await postgres.CreateDatabaseAsync();
        var rows = Rows(Total);
        await using var source = NpgsqlDataSource.Create(db);
        var store = new UsageStore(source, TimeProvider.System);
        await store.InsertAsync(rows[..batchSize], default); // warm-up (JIT, plan), counted in the total rows below

        var clock = Stopwatch.StartNew();
        for (var i = batchSize; i < Total; i += batchSize) await store.InsertAsync(rows[i..Math.Min(i + batchSize, Total)], default);
        clock.Stop();

        var rate = (Total - batchSize) / clock.Elapsed.TotalSeconds;
        output.WriteLine($"UsageStore.InsertAsync, {batchSize} rows per statement: {rate:N0} rows/s ({Total - batchSize:N0} rows in {clock.Elapsed.TotalSeconds:N2} s)");
        Assert.Equal(Total, await ScalarAsync(db, "SELECT count(*) FROM usage"));
        Assert.True(rate > FloorRowsPerSecond, $"{rate:N0} rows/s");
    }

    [Fact]
    public async Task Writer_RecordFlatOut_RowsPerSecondIntoPostgres()
    {
        var db = await postgres.CreateDatabaseAsync();
        var rows = Rows(Total);
        // Default batching; a channel big enough that this burst measures Postgres, not the spill file.
        using var writer = Writer(db, SpillPath(), o => o with { FlushInterval = TimeSpan.FromSeconds(1), ChannelCapacity = Total });
        await writer.StartAsync(default);

        var clock = Stopwatch.StartNew();
        foreach (var row in rows) writer.Record(row);
        var recordTime = clock.Elapsed;
        await EventuallyAsync(() => Task.FromResult(writer.Stats.Written == Total), TimeSpan.FromMinutes(2), () => $"written {writer.Stats.Written}");
        clock.Stop();
        await writer.StopAsync(default);

        var rate = Total / clock.Elapsed.TotalSeconds;
        output.WriteLine($"UsageWriter end to end: {rate:N0} rows/s ({Total:N0} rows in {clock.Elapsed.TotalSeconds:N2} s; Record() took {recordTime.TotalMilliseconds / Total * 1000:N2} µs per row)");
        Assert.Equal(Total, await ScalarAsync(db, "SELECT count(*) FROM usage"));
        Assert.Equal(0, writer.Stats.Spilled);
        Assert.True(rate > FloorRowsPerSecond, $"{rate:N0} rows/s");
    }
}
