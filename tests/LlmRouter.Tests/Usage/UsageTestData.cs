using Microsoft.Extensions.Logging;
using System.Diagnostics;
using LlmRouter.Usage;
using LlmRouter.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace LlmRouter.Tests.Usage;

internal static class UsageTestData
{
    public static readonly Guid KeyA = Guid.Parse("aaaaaaaa-0000-0000-0000-000000000001");
    public static readonly Guid KeyB = Guid.Parse("bbbbbbbb-0000-0000-0000-000000000002");
    public static readonly DateTimeOffset Day1 = new(2026, 11, 20, 10, 0, 0, TimeSpan.Zero);

    /// <summary>Rows spread over keys (including none), models, two UTC days, with some errors and costs.</summary>
    public static List<UsageRecord> Rows(int count, int seed = 0)
    {
        var keys = new Guid?[] { KeyA, KeyB, null };
        var models = new[] { "chat", "code" };
        var rows = new List<UsageRecord>(count);
        for (var i = 0; i < count; i++)
        {
            var n = i + seed;
            rows.Add(new UsageRecord
            {
                Id = Guid.NewGuid(),
                ClientRequestId = "req-" + n,
                KeyId = keys[n % 3],
                Model = models[n % 2],
                RequestedModel = models[n % 2],
                DeploymentId = "dep-" + (n % 4),
                Backend = "http://10.0.0." + (n % 4) + ":11434/",
                PromptTokens = 10 + n % 7,
                CompletionTokens = 20 + n % 11,
                Cost = 0.0001m * (n % 5),
                Status = n % 10 == 0 ? 502 : 200,
                ErrorType = n % 10 == 0 ? "backend_error" : null,
                TimeToFirstTokenMs = n % 3 == 0 ? null : 12.5,
                DurationMs = 100 + n,
                Streamed = n % 2 == 0,
                EndUser = n % 4 == 0 ? "user-" + n : null,
                // Crosses midnight UTC: the rollup must split by day.
                StartedAt = Day1.AddHours(13).AddSeconds(n * 37 % 7200),
            });
        }
        return rows;
    }

    /// <summary>Every migration but the keys table's: the usage tables alone, as a database shared with another app might have them.</summary>
    public static bool WithoutKeys(string migration) => !migration.StartsWith("0001", StringComparison.Ordinal);

    public static UsageWriter Writer(string? connectionString, string spillPath, Func<UsageWriterOptions, UsageWriterOptions>? tune = null, ILogger? logger = null)
    {
        var options = new UsageWriterOptions { FlushInterval = TimeSpan.FromMilliseconds(100), SpillPath = spillPath, RetryMax = TimeSpan.FromSeconds(1) };
        if (tune is not null) options = tune(options);
        var source = connectionString is null ? null : NpgsqlDataSource.Create(connectionString);
        return new UsageWriter(source, options, TimeProvider.System, logger ?? NullLogger.Instance);
    }

    public static string SpillPath() => Path.Combine(TestTemp.NewPath("usage"), "spill.jsonl");

    public static async Task<long> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return Convert.ToInt64(await command.ExecuteScalarAsync());
    }

    /// <summary>Polls until the condition holds; fails with the last observed value at the deadline. No fixed sleeps.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout, Func<string> describe)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                if (await condition()) return;
            }
            catch (NpgsqlException) when (clock.Elapsed < timeout)
            {
            }
            if (clock.Elapsed > timeout) Assert.Fail($"Not true within {timeout}: {describe()}");
            await Task.Delay(25);
        }
    }

    public static Task WaitForRowsAsync(string connectionString, long expected, TimeSpan? timeout = null)
    {
        long seen = -1;
        return EventuallyAsync(async () => (seen = await ScalarAsync(connectionString, "SELECT count(*) FROM usage")) == expected,
            timeout ?? TimeSpan.FromSeconds(30), () => $"usage has {seen} rows, expected {expected}");
    }

    /// <summary>The rollup as (day, key, model) → (requests, prompt, completion, cost, errors), from Postgres.</summary>
    public static async Task<Dictionary<(DateOnly, Guid, string), (long, long, long, decimal, long)>> RollupAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT day, key_id, model, requests, prompt_tokens, completion_tokens, cost, errors FROM usage_daily", connection);
        await using var reader = await command.ExecuteReaderAsync();
        var result = new Dictionary<(DateOnly, Guid, string), (long, long, long, decimal, long)>();
        while (await reader.ReadAsync())
        {
            result[(reader.GetFieldValue<DateOnly>(0), reader.GetGuid(1), reader.GetString(2))] =
                (reader.GetInt64(3), reader.GetInt64(4), reader.GetInt64(5), reader.GetDecimal(6), reader.GetInt64(7));
        }
        return result;
    }

    /// <summary>What the rollup must hold for these rows, computed independently of the SQL.</summary>
    public static Dictionary<(DateOnly, Guid, string), (long, long, long, decimal, long)> ExpectedRollup(IEnumerable<UsageRecord> rows) =>
        rows.GroupBy(r => (DateOnly.FromDateTime(r.StartedAt.UtcDateTime), r.KeyId ?? Guid.Empty, r.Model))
            .ToDictionary(g => g.Key, g => (
                (long)g.Count(),
                g.Sum(r => (long)r.PromptTokens),
                g.Sum(r => (long)r.CompletionTokens),
                g.Sum(r => r.Cost),
                (long)g.Count(r => r.Status >= 400 || r.ErrorType is not null)));

    public static void AssertRollup(IEnumerable<UsageRecord> rows, Dictionary<(DateOnly, Guid, string), (long, long, long, decimal, long)> actual)
    {
        var expected = ExpectedRollup(rows);
        Assert.Equal(expected.Keys.OrderBy(k => k), actual.Keys.OrderBy(k => k));
        foreach (var (key, value) in expected) Assert.Equal(value, actual[key]);
    }
}
