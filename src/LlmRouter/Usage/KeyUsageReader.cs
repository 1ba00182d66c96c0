using LlmRouter.Data;
using LlmRouter.LiveState;
using Npgsql;

namespace LlmRouter.Usage;

/// <summary>
/// A key's recorded usage in its current windows, read when its live counters must be (re)built: the first use in a
/// period, or after Redis lost its state. Once per key and period, never per request.
/// </summary>
internal sealed class KeyUsageReader(Database database)
{
    private const string Sql = """
        SELECT coalesce(sum(prompt_tokens + completion_tokens) FILTER (WHERE started_at >= @period), 0)::bigint,
               coalesce(sum(cost) FILTER (WHERE started_at >= @period), 0)::numeric,
               count(*) FILTER (WHERE started_at >= @minute)::bigint,
               coalesce(sum(prompt_tokens + completion_tokens) FILTER (WHERE started_at >= @minute), 0)::bigint
        FROM usage
        WHERE key_id = @key AND started_at >= least(@period, @minute)
        """;

    public bool IsConfigured => database.IsConfigured;

    /// <exception cref="NpgsqlException">The database is unreachable.</exception>
    public async Task<KeyUsageSnapshot> ReadAsync(Guid keyId, DateTimeOffset periodStart, DateTimeOffset minuteStart, CancellationToken cancellationToken)
    {
        if (database.Source is not { } source) return default;
        await using var command = source.CreateCommand(Sql);
        command.Parameters.AddWithValue("key", keyId);
        command.Parameters.AddWithValue("period", periodStart.UtcDateTime);
        command.Parameters.AddWithValue("minute", minuteStart.UtcDateTime);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        await reader.ReadAsync(cancellationToken);
        var micros = (long)Math.Ceiling(reader.GetDecimal(1) * Completions.KeyLimits.MicrosPerUnit);
        return new KeyUsageSnapshot(reader.GetInt64(0), micros, reader.GetInt64(2), reader.GetInt64(3));
    }
}
