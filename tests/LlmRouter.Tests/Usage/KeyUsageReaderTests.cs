using LlmRouter.Configuration;
using LlmRouter.Data;
using LlmRouter.LiveState;
using LlmRouter.Usage;
using Npgsql;
using static LlmRouter.Tests.Usage.UsageTestData;

namespace LlmRouter.Tests.Usage;

/// <summary>
/// What a key's counters are rebuilt from after a restart or a Redis loss: its tokens and spend in the current budget
/// period and its requests in the current minute, as the usage writer recorded them.
/// </summary>
public sealed class KeyUsageReaderTests(UsagePostgres postgres) : IClassFixture<UsagePostgres>
{
    // A period that starts mid-hour, read mid-minute three hours later.
    private static readonly DateTimeOffset PeriodStart = Day1.AddMinutes(20).AddSeconds(30);
    private static readonly DateTimeOffset Now = Day1.AddHours(3).AddMinutes(41).AddSeconds(15);
    private static readonly DateTimeOffset Minute = TimeBuckets.MinuteStart(Now);

    [Theory]
    [InlineData(20 * 60 + 30, "UTC")]
    [InlineData(0, "UTC")] // on the hour: no part-hour to read from rows
    [InlineData(20 * 60 + 30, "Asia/Kolkata")] // a session time zone half an hour off UTC: the hours are still UTC's
    public async Task Read_CountsThePeriodAndTheMinute_NotWhatCameBeforeOrOtherKeys(int periodStartSeconds, string sessionTimeZone)
    {
        var periodStart = Day1.AddSeconds(periodStartSeconds);
        var db = new NpgsqlConnectionStringBuilder(await postgres.CreateDatabaseAsync()) { Timezone = sessionTimeZone }.ConnectionString;
        var rows = KeyRows(periodStart);
        await InsertAsync(db, rows);

        var read = await ReadAsync(db, periodStart);

        Assert.Equal(Expected(rows, periodStart), read);
    }

    [Fact]
    public async Task Read_RowsPrunedFromTheUsageTable_StillCountInTheirWholeHours()
    {
        // The period's whole hours are read from the hourly rollup, not from each row, so a key with millions of
        // requests in its period is rebuilt as fast as a quiet one, and usage rows archived away still count.
        var db = await postgres.CreateDatabaseAsync();
        var rows = KeyRows(PeriodStart);
        await InsertAsync(db, rows);

        await using (var source = NpgsqlDataSource.Create(db))
        await using (var prune = source.CreateCommand("DELETE FROM usage WHERE started_at >= $1 AND started_at < $2"))
        {
            prune.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = Day1.AddHours(1) });
            prune.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = Day1.AddHours(3) });
            Assert.True(await prune.ExecuteNonQueryAsync() > 0);
        }

        Assert.Equal(Expected(rows, PeriodStart), await ReadAsync(db, PeriodStart));
    }

    [Fact]
    public async Task Read_ABatchWrittenTwice_CountsOnce()
    {
        var db = await postgres.CreateDatabaseAsync();
        var rows = KeyRows(PeriodStart);
        await InsertAsync(db, rows);
        await InsertAsync(db, rows);

        Assert.Equal(Expected(rows, PeriodStart), await ReadAsync(db, PeriodStart));
    }

    [Fact]
    public async Task Upgrade_UsageRecordedBeforeTheHourlyRollup_IsBackfilledIntoIt()
    {
        var db = await postgres.CreateDatabaseAsync(include: file => string.CompareOrdinal(file, "0003") < 0);
        var rows = KeyRows(PeriodStart);
        await using (var source = NpgsqlDataSource.Create(db))
        {
            // As a version without the rollup wrote them: plain rows.
            foreach (var row in rows)
            {
                await using var insert = source.CreateCommand(
                    "INSERT INTO usage (id, key_id, model, requested_model, prompt_tokens, completion_tokens, cost, status, duration_ms, started_at) " +
                    "VALUES ($1, $2, 'chat', 'chat', $3, $4, $5, 200, 1, $6)");
                insert.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = row.Id });
                insert.Parameters.Add(new NpgsqlParameter { Value = (object?)row.KeyId ?? DBNull.Value });
                insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = row.PromptTokens });
                insert.Parameters.Add(new NpgsqlParameter<int> { TypedValue = row.CompletionTokens });
                insert.Parameters.Add(new NpgsqlParameter<decimal> { TypedValue = row.Cost });
                insert.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = row.StartedAt });
                await insert.ExecuteNonQueryAsync();
            }
        }

        await UsagePostgres.ApplyMigrationsAsync(db, file => string.CompareOrdinal(file, "0003") >= 0);

        Assert.Equal(Expected(rows, PeriodStart), await ReadAsync(db, PeriodStart));
    }

    /// <summary>
    /// Key A's requests every 7 minutes from an hour before the period to after the minute's start (so some fall in the
    /// period's first part-hour, some in its whole hours and some in the current minute), with key B's and keyless ones
    /// among them.
    /// </summary>
    private static List<UsageRecord> KeyRows(DateTimeOffset periodStart)
    {
        var rows = Rows(90);
        var at = periodStart.AddHours(-1);
        for (var i = 0; i < rows.Count; i++)
        {
            rows[i] = rows[i] with { StartedAt = at };
            at = at.AddMinutes(i % 3 == 0 ? 7 : 0).AddSeconds(i % 3 == 0 ? 0 : 11);
        }
        rows.Add(Rows(1)[0] with { KeyId = KeyA, StartedAt = Minute.AddSeconds(5), PromptTokens = 1000, CompletionTokens = 7, Cost = 0.25m });
        rows.Add(Rows(1)[0] with { KeyId = KeyA, StartedAt = periodStart, PromptTokens = 300, CompletionTokens = 1, Cost = 0.5m });
        rows.Add(Rows(1)[0] with { KeyId = KeyA, StartedAt = periodStart.AddTicks(-10), PromptTokens = 5000, CompletionTokens = 1, Cost = 9m });
        return rows;
    }

    /// <summary>The snapshot these rows must give, computed from the rows themselves.</summary>
    private static KeyUsageSnapshot Expected(List<UsageRecord> rows, DateTimeOffset periodStart)
    {
        var mine = rows.Where(r => r.KeyId == KeyA).ToList();
        Assert.Contains(mine, r => r.StartedAt >= Minute);
        Assert.Contains(mine, r => r.StartedAt < periodStart);
        var period = mine.Where(r => r.StartedAt >= periodStart).ToList();
        var minute = mine.Where(r => r.StartedAt >= Minute).ToList();
        return new KeyUsageSnapshot(
            period.Sum(r => (long)r.PromptTokens + r.CompletionTokens),
            (long)Math.Ceiling(period.Sum(r => r.Cost) * 1_000_000m),
            minute.Count,
            minute.Sum(r => (long)r.PromptTokens + r.CompletionTokens));
    }

    private static async Task InsertAsync(string db, List<UsageRecord> rows)
    {
        await using var source = NpgsqlDataSource.Create(db);
        await new UsageStore(source, TimeProvider.System).InsertAsync(rows, default);
    }

    private static async Task<KeyUsageSnapshot> ReadAsync(string db, DateTimeOffset periodStart)
    {
        await using var database = new Database(new GeneralSettings { DatabaseUrl = db });
        return await new KeyUsageReader(database).ReadAsync(KeyA, periodStart, Minute, default);
    }
}
