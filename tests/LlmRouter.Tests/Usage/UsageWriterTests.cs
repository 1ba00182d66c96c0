using LlmRouter.Usage;
using Npgsql;
using static LlmRouter.Tests.Usage.UsageTestData;

namespace LlmRouter.Tests.Usage;

public sealed class UsageWriterTests(UsagePostgres postgres) : IClassFixture<UsagePostgres>
{
    [Fact]
    public async Task Record_Batches_LandAndRollupMatches()
    {
        var db = await postgres.CreateDatabaseAsync();
        var rows = Rows(1_234);
        using var writer = Writer(db, SpillPath());
        await writer.StartAsync(default);

        foreach (var row in rows) writer.Record(row);

        await WaitForRowsAsync(db, rows.Count);
        AssertRollup(rows, await RollupAsync(db));
        Assert.Equal(rows.Count, await ScalarAsync(db, "SELECT sum(requests) FROM usage_daily"));
        // Spot-check that every column made it, including nulls.
        var sample = rows[4];
        await using (var connection = new NpgsqlConnection(db))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT client_request_id, key_id, model, deployment_id, backend, prompt_tokens, completion_tokens, cost, status, error_type, ttft_ms, duration_ms, streamed, end_user, started_at FROM usage WHERE id = $1", connection);
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = sample.Id });
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(sample.ClientRequestId, reader.GetString(0));
            Assert.Equal(sample.KeyId, reader.GetGuid(1));
            Assert.Equal(sample.Model, reader.GetString(2));
            Assert.Equal(sample.DeploymentId, reader.GetString(3));
            Assert.Equal(sample.Backend, reader.GetString(4));
            Assert.Equal(sample.PromptTokens, reader.GetInt32(5));
            Assert.Equal(sample.CompletionTokens, reader.GetInt32(6));
            Assert.Equal(sample.Cost, reader.GetDecimal(7));
            Assert.Equal(sample.Status, reader.GetInt32(8));
            Assert.True(reader.IsDBNull(9));
            Assert.Equal(sample.TimeToFirstTokenMs, reader.GetDouble(10));
            Assert.Equal(sample.DurationMs, reader.GetDouble(11));
            Assert.Equal(sample.Streamed, reader.GetBoolean(12));
            Assert.Equal(sample.EndUser, reader.GetString(13));
            Assert.Equal(sample.StartedAt, reader.GetFieldValue<DateTimeOffset>(14));
        }
        await writer.StopAsync(default);
        Assert.Equal(0, writer.Stats.Spilled);
    }

    [Fact]
    public async Task InsertBatch_RetriedAfterUnknownOutcome_DoesNotDoubleCount()
    {
        var db = await postgres.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(db);
        var store = new UsageStore(source, TimeProvider.System);
        var first = Rows(300);
        var second = Rows(200, seed: 300);

        Assert.Equal(300, await store.InsertAsync(first, default));
        // The same batch again (its commit was in doubt), then a batch that overlaps it, then one with an id twice.
        Assert.Equal(0, await store.InsertAsync(first, default));
        Assert.Equal(200, await store.InsertAsync([.. first.Take(50), .. second], default));
        Assert.Equal(0, await store.InsertAsync([second[0], second[0]], default));

        Assert.Equal(500, await ScalarAsync(db, "SELECT count(*) FROM usage"));
        AssertRollup([.. first, .. second], await RollupAsync(db));
    }

    [Fact]
    public async Task InsertBatch_AfterPostgresClosedTheStoresConnection_LandsOnANewOne()
    {
        var db = await postgres.CreateDatabaseAsync();
        await using var source = NpgsqlDataSource.Create(db);
        await using var store = new UsageStore(source, TimeProvider.System);
        Assert.Equal(100, await store.InsertAsync(Rows(100), default));

        // The connection the store keeps between batches goes away (Postgres restarted, an idle timeout, a proxy).
        Assert.True(await ScalarAsync(db, "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()") >= 1);

        Assert.Equal(50, await store.InsertAsync(Rows(50, seed: 100), default));
        Assert.Equal(150, await ScalarAsync(db, "SELECT count(*) FROM usage"));
    }

    [Fact]
    public async Task Record_SameRowTwice_StoredAndCountedOnce()
    {
        var db = await postgres.CreateDatabaseAsync();
        var rows = Rows(100);
        using var writer = Writer(db, SpillPath());
        await writer.StartAsync(default);

        foreach (var row in rows) writer.Record(row);
        await WaitForRowsAsync(db, 100);
        foreach (var row in rows.Take(40)) writer.Record(row);
        await writer.StopAsync(default);

        Assert.Equal(100, await ScalarAsync(db, "SELECT count(*) FROM usage"));
        Assert.Equal(40, writer.Stats.Duplicates);
        AssertRollup(rows, await RollupAsync(db));
    }

    [Fact]
    public async Task StopAsync_FlushesEverythingInMemory()
    {
        var db = await postgres.CreateDatabaseAsync();
        var rows = Rows(300);
        // Neither the interval nor the batch size would flush these before the stop.
        using var writer = Writer(db, SpillPath(), o => o with { FlushInterval = TimeSpan.FromHours(1), FlushAtRows = 10_000 });
        await writer.StartAsync(default);

        foreach (var row in rows) writer.Record(row);
        Assert.Equal(0, await ScalarAsync(db, "SELECT count(*) FROM usage"));
        await writer.StopAsync(default);

        Assert.Equal(300, await ScalarAsync(db, "SELECT count(*) FROM usage"));
        AssertRollup(rows, await RollupAsync(db));
        Assert.Equal(0, writer.Stats.Spilled);
    }

    [Fact]
    public async Task ProcessDiedWithRowsInItsJournal_NextStartStoresEachOnce_EvenThoseThatHadLanded()
    {
        var db = await postgres.CreateDatabaseAsync();
        var rows = Rows(200);
        // The first 100 landed in Postgres, but the process died before marking them done in its journal.
        using (var earlier = Writer(db, SpillPath()))
        {
            await earlier.StartAsync(default);
            foreach (var row in rows.Take(100)) earlier.Record(row);
            await earlier.StopAsync(default);
        }
        var spill = SpillPath();
        using (var journal = UsageJournal.Open(spill + ".journal", 1024 * 1024))
        {
            journal.Start();
            foreach (var row in rows) Assert.True(journal.Append(row) > 0);
        }

        var logger = new ListLogger();
        using (var writer = Writer(db, spill, logger: logger))
        {
            await writer.StartAsync(default);

            await WaitForRowsAsync(db, 200);
            await EventuallyAsync(() => Task.FromResult(!writer.Spill.HasBacklog), TimeSpan.FromSeconds(10), () => "spill backlog still present");
            AssertRollup(rows, await RollupAsync(db));
            Assert.Equal(200, writer.Stats.Recovered);
            Assert.Equal(100, writer.Stats.Duplicates);
            Assert.Single(logger.Messages, m => m.Contains("Recovered 200 usage rows from the crash journal", StringComparison.Ordinal));
            Assert.NotNull(writer.JournalPath);
            await writer.StopAsync(default);
        }
        using var after = UsageJournal.Open(spill + ".journal", 1024 * 1024);
        Assert.Empty(after.Pending);
    }

    [Fact]
    public async Task JournalHeldByAnotherProcess_RowsStillLand_WithoutOne()
    {
        var db = await postgres.CreateDatabaseAsync();
        var spill = SpillPath();
        using var other = UsageJournal.Open(spill + ".journal", 1024 * 1024);
        var logger = new ListLogger();
        using var writer = Writer(db, spill, logger: logger);
        await writer.StartAsync(default);

        foreach (var row in Rows(50)) writer.Record(row);

        await WaitForRowsAsync(db, 50);
        Assert.Null(writer.JournalPath);
        Assert.Single(logger.Messages, m => m.Contains("No crash journal at", StringComparison.Ordinal));
        await writer.StopAsync(default);
    }

    [Fact]
    public async Task Record_AFullBatch_IsWrittenWithoutWaitingForTheInterval()
    {
        var db = await postgres.CreateDatabaseAsync();
        var rows = Rows(100);
        using var writer = Writer(db, SpillPath(), o => o with { FlushInterval = TimeSpan.FromHours(1), FlushAtRows = 100 });
        await writer.StartAsync(default);

        // One row opens a flush window, which the loop waits out without waking for each row that follows.
        writer.Record(rows[0]);
        await EventuallyAsync(() => Task.FromResult(writer.WaitingOutWindow), TimeSpan.FromSeconds(30), () => "the loop never waited out a window");
        foreach (var row in rows.Skip(1)) writer.Record(row);

        // The write that fills the batch ends that wait: the rows do not wait out the hour.
        await WaitForRowsAsync(db, 100);
        await writer.StopAsync(default);
        Assert.Equal(100, await ScalarAsync(db, "SELECT count(*) FROM usage"));
    }

    [Fact]
    public async Task StopAsync_BeforeTheLoopEverRan_StillFlushes()
    {
        var db = await postgres.CreateDatabaseAsync();
        var rows = Rows(150);
        using var writer = Writer(db, SpillPath());
        foreach (var row in rows) writer.Record(row);

        // A host stopping at once: BackgroundService then never runs ExecuteAsync at all.
        await writer.StartAsync(new CancellationToken(canceled: true));
        await writer.StopAsync(default);

        Assert.Equal(150, await ScalarAsync(db, "SELECT count(*) FROM usage"));
    }

    [Fact]
    public async Task ChannelOverflow_SpillsToFile_ThenReplays()
    {
        var db = await postgres.CreateDatabaseAsync();
        var spill = SpillPath();
        var rows = Rows(1_000);
        using var writer = Writer(db, spill, o => o with { ChannelCapacity = 10 });

        // Nothing reads yet: all but 10 rows overflow.
        foreach (var row in rows) writer.Record(row);
        Assert.Equal(990, writer.Stats.Overflowed);
        await writer.StartAsync(default);

        await WaitForRowsAsync(db, rows.Count);
        await EventuallyAsync(() => Task.FromResult(!writer.Spill.HasBacklog), TimeSpan.FromSeconds(10), () => "spill backlog still present");
        Assert.Equal(990, writer.Stats.Spilled);
        Assert.Equal(990, writer.Stats.Replayed);
        Assert.False(File.Exists(writer.Spill.Path) && new FileInfo(writer.Spill.Path).Length > 0);
        Assert.False(File.Exists(writer.Spill.ReplayPath));
        AssertRollup(rows, await RollupAsync(db));
        await writer.StopAsync(default);
    }

    [Fact]
    public async Task SpillFile_LineCutShortByHardKill_IsSkippedAndTheRestReplayed()
    {
        var db = await postgres.CreateDatabaseAsync();
        var spill = SpillPath();
        var rows = Rows(20);
        new UsageSpillFile(spill).Append(rows.Take(10).ToList());
        await File.AppendAllTextAsync(spill, "{\"id\":\"5f0c"); // a kill in the middle of a write
        new UsageSpillFile(spill).Append(rows.Skip(10).ToList());

        using var writer = Writer(db, spill);
        await writer.StartAsync(default);

        await WaitForRowsAsync(db, 20);
        AssertRollup(rows, await RollupAsync(db));
        await writer.StopAsync(default);
    }

    [Fact]
    public async Task Record_TextPostgresRefuses_IsCleanedAndTheBatchLands()
    {
        var db = await postgres.CreateDatabaseAsync();
        var rows = Rows(50);
        rows[7] = rows[7] with { ClientRequestId = "abc\0def", EndUser = "bad\uD800surrogate" };
        using var writer = Writer(db, SpillPath());
        await writer.StartAsync(default);

        foreach (var row in rows) writer.Record(row);

        await WaitForRowsAsync(db, 50);
        Assert.Equal(1, await ScalarAsync(db, "SELECT count(*) FROM usage WHERE client_request_id = 'abcdef' AND end_user = 'bad\uFFFDsurrogate'"));
        await writer.StopAsync(default);
        Assert.Equal(0, writer.Stats.Rejected);
    }

    [Fact]
    public async Task Record_RowPostgresRejects_IsSetAsideAndTheRestLand()
    {
        var db = await postgres.CreateDatabaseAsync();
        // A constraint the writer cannot clean around stands in for any permanent data error.
        await using (var connection = new NpgsqlConnection(db))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("ALTER TABLE usage ADD CONSTRAINT no_negative CHECK (prompt_tokens >= 0)", connection);
            await command.ExecuteNonQueryAsync();
        }
        var rows = Rows(30);
        rows[3] = rows[3] with { PromptTokens = -1 };
        using var writer = Writer(db, SpillPath());
        await writer.StartAsync(default);

        foreach (var row in rows) writer.Record(row);

        await WaitForRowsAsync(db, 29);
        await writer.StopAsync(default);
        Assert.Equal(1, writer.Stats.Rejected);
        var rejected = await File.ReadAllLinesAsync(writer.Spill.RejectedPath);
        Assert.Single(rejected);
        Assert.Contains(rows[3].Id.ToString(), rejected[0]);
        AssertRollup(rows.Where((_, i) => i != 3), await RollupAsync(db));
    }

    [Fact]
    public async Task Flush_UpdatesApiKeysLastUsedAt_ToTheLatestRequest()
    {
        var db = await postgres.CreateDatabaseAsync(WithoutKeys);
        await using (var connection = new NpgsqlConnection(db))
        {
            await connection.OpenAsync();
            var later = Day1.AddDays(5);
            await using var command = new NpgsqlCommand($"""
                CREATE TABLE api_keys (id uuid PRIMARY KEY, last_used_at timestamptz);
                INSERT INTO api_keys VALUES ('{KeyA}', NULL), ('{KeyB}', '{later:O}');
                """, connection);
            await command.ExecuteNonQueryAsync();
        }
        var rows = Rows(90);
        using var writer = Writer(db, SpillPath());
        await writer.StartAsync(default);

        foreach (var row in rows) writer.Record(row);
        await WaitForRowsAsync(db, 90);
        await writer.StopAsync(default);

        var latestA = rows.Where(r => r.KeyId == KeyA).Max(r => r.StartedAt);
        await using (var connection = new NpgsqlConnection(db))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT id, last_used_at FROM api_keys ORDER BY id", connection);
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.Equal(latestA, reader.GetFieldValue<DateTimeOffset>(1));
            Assert.True(await reader.ReadAsync());
            // Never moved backwards by older rows (a replayed backlog).
            Assert.Equal(Day1.AddDays(5), reader.GetFieldValue<DateTimeOffset>(1));
        }
    }

    [Fact]
    public async Task Flush_WithoutApiKeysTable_StillWritesUsage()
    {
        var db = await postgres.CreateDatabaseAsync(WithoutKeys);
        var rows = Rows(60);
        using var writer = Writer(db, SpillPath());
        await writer.StartAsync(default);

        foreach (var row in rows) writer.Record(row);

        await WaitForRowsAsync(db, 60);
        await writer.StopAsync(default);
        Assert.Equal(0, writer.Stats.Spilled);
    }

    [Fact]
    public async Task NoDatabase_DiscardsAndSaysSoOnce()
    {
        var logger = new ListLogger();
        var spill = SpillPath();
        using var writer = Writer(null, spill, logger: logger);
        await writer.StartAsync(default);

        foreach (var row in Rows(25)) writer.Record(row);
        await writer.StopAsync(default);

        Assert.Equal(25, writer.Stats.Discarded);
        Assert.Single(logger.Messages, m => m.Contains("NOT recorded", StringComparison.Ordinal));
        Assert.False(File.Exists(spill));
    }
}
