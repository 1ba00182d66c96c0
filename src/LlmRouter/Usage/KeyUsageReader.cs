using LlmRouter.Data;
using LlmRouter.LiveState;
using Npgsql;

namespace LlmRouter.Usage;

/// <summary>
/// A key's recorded usage in its current windows, read when its live counters must be (re)built: the first use in a
/// period, or after Redis lost its state. Once per key and period, never per request. The period's whole hours come
/// from <c>usage_hourly</c>; only the part-hour between the period's start and its first whole hour, and the current
/// minute, are read from <c>usage</c>'s rows, so a month of a busy key's requests is read as about 720 rows.
/// </summary>
internal sealed class KeyUsageReader(Database database)
{
    private const string Sql = """
        SELECT h.tokens + r.tokens, h.cost + r.cost, m.requests, m.tokens
        FROM (SELECT coalesce(sum(tokens), 0)::bigint AS tokens, coalesce(sum(cost), 0)::numeric AS cost
              FROM usage_hourly WHERE key_id = @key AND hour >= @whole) AS h,
             (SELECT coalesce(sum(prompt_tokens + completion_tokens), 0)::bigint AS tokens, coalesce(sum(cost), 0)::numeric AS cost
              FROM usage WHERE key_id = @key AND started_at >= @period AND started_at < @whole) AS r,
             (SELECT count(*)::bigint AS requests, coalesce(sum(prompt_tokens + completion_tokens), 0)::bigint AS tokens
              FROM usage WHERE key_id = @key AND started_at >= @minute) AS m
        """;

    public bool IsConfigured => database.IsConfigured;

    /// <exception cref="NpgsqlException">The database is unreachable.</exception>
    public async Task<KeyUsageSnapshot> ReadAsync(Guid keyId, DateTimeOffset periodStart, DateTimeOffset minuteStart, CancellationToken cancellationToken)
    {
        if (database.Source is not { } source) return default;
        await using var command = source.CreateCommand(Sql);
        command.Parameters.AddWithValue("key", keyId);
        command.Parameters.AddWithValue("period", periodStart.UtcDateTime);
        command.Parameters.AddWithValue("whole", FirstWholeHour(periodStart).UtcDateTime);
        command.Parameters.AddWithValue("minute", minuteStart.UtcDateTime);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var micros = (long)Math.Ceiling(reader.GetDecimal(1) * Completions.KeyLimits.MicrosPerUnit);
        return new KeyUsageSnapshot(reader.GetInt64(0), micros, reader.GetInt64(2), reader.GetInt64(3));
    }

    /// <summary>The start of the first UTC hour that lies wholly in a period starting at <paramref name="periodStart"/>.</summary>
    private static DateTimeOffset FirstWholeHour(DateTimeOffset periodStart)
    {
        var hour = TimeSpan.TicksPerHour;
        var ticks = periodStart.UtcTicks;
        return new DateTimeOffset((ticks + hour - 1) / hour * hour, TimeSpan.Zero);
    }
}
