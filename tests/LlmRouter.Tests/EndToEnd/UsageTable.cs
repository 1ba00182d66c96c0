using Npgsql;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>One row of the <c>usage</c> table.</summary>
internal sealed record UsageRow(
    Guid Id, string? ClientRequestId, Guid? KeyId, string Model, string RequestedModel, string? DeploymentId, string? Backend,
    int PromptTokens, int CompletionTokens, int Status, string? ErrorType, bool Streamed, string? EndUser, double? TtftMs = null,
    double DurationMs = 0)
{
    public int TotalTokens => PromptTokens + CompletionTokens;
}

/// <summary>A key's line in the daily rollup, summed over days and models.</summary>
internal sealed record RollupTotals(long Requests, long PromptTokens, long CompletionTokens, long Errors);

/// <summary>Reads the usage tables straight from Postgres (fresh connections: tests stop and start the server).</summary>
internal sealed class UsageTable(string connectionString)
{
    private readonly string _connectionString = connectionString.Replace("Pooling=true", "Pooling=false", StringComparison.Ordinal);

    public async Task<IReadOnlyList<UsageRow>> ForKeyAsync(Guid keyId)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT id, client_request_id, key_id, model, requested_model, deployment_id, backend,
                   prompt_tokens, completion_tokens, status, error_type, streamed, end_user, ttft_ms, duration_ms
            FROM usage WHERE key_id = $1 ORDER BY started_at
            """, connection);
        command.Parameters.AddWithValue(keyId);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<UsageRow>();
        while (await reader.ReadAsync())
        {
            rows.Add(new UsageRow(
                reader.GetGuid(0), Text(reader, 1), reader.IsDBNull(2) ? null : reader.GetGuid(2), reader.GetString(3), reader.GetString(4),
                Text(reader, 5), Text(reader, 6), reader.GetInt32(7), reader.GetInt32(8), reader.GetInt32(9), Text(reader, 10),
                reader.GetBoolean(11), Text(reader, 12), reader.IsDBNull(13) ? null : reader.GetDouble(13), reader.GetDouble(14)));
        }
        return rows;
    }

    /// <summary>Rows for the key, or an empty list while Postgres is unreachable (callers poll).</summary>
    public async Task<IReadOnlyList<UsageRow>> ForKeyOrEmptyAsync(Guid keyId)
    {
        try
        {
            return await ForKeyAsync(keyId);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or System.Net.Sockets.SocketException)
        {
            return [];
        }
    }

    public async Task<RollupTotals> RollupForKeyAsync(Guid keyId)
    {
        await using var connection = new NpgsqlConnection(_connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT coalesce(sum(requests), 0)::bigint, coalesce(sum(prompt_tokens), 0)::bigint,
                   coalesce(sum(completion_tokens), 0)::bigint, coalesce(sum(errors), 0)::bigint
            FROM usage_daily WHERE key_id = $1
            """, connection);
        command.Parameters.AddWithValue(keyId);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return new RollupTotals(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
    }

    private static string? Text(NpgsqlDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);
}
