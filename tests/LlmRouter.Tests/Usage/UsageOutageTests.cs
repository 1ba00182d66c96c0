using LlmRouter.Tests.Services;
using static LlmRouter.Tests.Usage.UsageTestData;

namespace LlmRouter.Tests.Usage;

/// <summary>Stops and starts Postgres, so each test has a cluster of its own.</summary>
public sealed class UsageOutageTests : IAsyncLifetime
{
    private readonly UsagePostgres _postgres = new();

    public Task InitializeAsync() => _postgres.InitializeAsync();

    public Task DisposeAsync() => _postgres.DisposeAsync();

    private PostgresServer Server => _postgres.Server;

    [Fact]
    public async Task PostgresStoppedDuringRecording_EveryRowStoredExactlyOnce_RollupEqualsSum()
    {
        var db = await _postgres.CreateDatabaseAsync();
        var rows = Rows(6_000);
        var logger = new ListLogger();
        using var writer = Writer(db, SpillPath(), logger: logger);
        await writer.StartAsync(default);

        // Record a steady stream (about 2,000 rows/s) while Postgres goes down and comes back.
        var next = 0;
        var recording = Task.Run(async () =>
        {
            while (next < rows.Count)
            {
                for (var i = 0; i < 20 && next < rows.Count; i++) writer.Record(rows[next++]);
                await Task.Delay(10);
            }
        });
        await EventuallyAsync(() => Task.FromResult(writer.Stats.Written >= 500), TimeSpan.FromSeconds(30), () => $"written {writer.Stats.Written}");
        await Server.StopAsync();
        var recordedWhenStopped = next;
        await EventuallyAsync(() => Task.FromResult(writer.Stats.Spilled > 0 && next > recordedWhenStopped + 500), TimeSpan.FromSeconds(30),
            () => $"spilled {writer.Stats.Spilled}, recorded {next - recordedWhenStopped} since the stop");
        await Server.StartAgainAsync();
        await recording;

        // Recovery alone replays the backlog: no stop or restart of the writer needed.
        await WaitForRowsAsync(db, rows.Count, TimeSpan.FromSeconds(60));
        await EventuallyAsync(() => Task.FromResult(!writer.Spill.HasBacklog), TimeSpan.FromSeconds(30), () => "backlog still present");
        Assert.Equal(rows.Count, await ScalarAsync(db, "SELECT count(DISTINCT id) FROM usage"));
        Assert.Equal(rows.Count, await ScalarAsync(db, "SELECT sum(requests) FROM usage_daily"));
        Assert.Equal(rows.Sum(r => (long)r.PromptTokens), await ScalarAsync(db, "SELECT sum(prompt_tokens) FROM usage_daily"));
        AssertRollup(rows, await RollupAsync(db));
        Assert.True(writer.Stats.Replayed > 0);
        Assert.Single(logger.Messages, m => m.Contains("database unavailable", StringComparison.Ordinal));
        await writer.StopAsync(default);
    }

    [Fact]
    public async Task StopAsync_PostgresDown_SpillsEverything_NextStartReplays()
    {
        var db = await _postgres.CreateDatabaseAsync();
        var spill = SpillPath();
        var rows = Rows(700);
        using (var writer = Writer(db, spill, o => o with { FlushInterval = TimeSpan.FromHours(1), FlushAtRows = 10_000 }))
        {
            await writer.StartAsync(default);
            foreach (var row in rows) writer.Record(row);
            await Server.StopAsync();
            await writer.StopAsync(default);
            Assert.Equal(700, writer.Stats.Spilled);
        }
        Assert.Equal(700, File.ReadLines(spill).Count());

        await Server.StartAgainAsync();
        using (var writer = Writer(db, spill))
        {
            await writer.StartAsync(default);
            await WaitForRowsAsync(db, 700);
            await EventuallyAsync(() => Task.FromResult(!writer.Spill.HasBacklog), TimeSpan.FromSeconds(10), () => "backlog still present");
            await writer.StopAsync(default);
        }
        AssertRollup(rows, await RollupAsync(db));
        Assert.False(File.Exists(spill + ".replay"));
    }
}
