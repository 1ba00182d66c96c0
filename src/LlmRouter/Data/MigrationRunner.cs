using Npgsql;

namespace LlmRouter.Data;

/// <summary>
/// Applies <c>migrations/NNNN_name.sql</c> in order. One session holds a Postgres advisory lock for the whole run, so
/// replicas starting together apply each file once; each file runs in its own transaction together with its row in
/// <c>schema_migrations</c>, so a failure leaves no half-applied file behind.
/// </summary>
internal sealed partial class MigrationRunner(ILogger<MigrationRunner> logger)
{
    /// <summary>Any fixed number works; this one is "llmrmigr" in ASCII, unlikely to clash with another application's lock.</summary>
    public const long AdvisoryLockId = 0x6c6c6d726d696772;

    public static string DefaultDirectory => Path.Combine(AppContext.BaseDirectory, "migrations");

    /// <summary>Applies what is missing; returns the files applied by this call (empty when the schema was current).</summary>
    public async Task<IReadOnlyList<MigrationFile>> ApplyAsync(NpgsqlDataSource source, string directory, CancellationToken cancellationToken)
    {
        var files = MigrationFile.ReadAll(directory);
        await using var connection = await source.OpenConnectionAsync(cancellationToken);
        await ExecuteAsync(connection, null, "SELECT pg_advisory_lock(@id)", cancellationToken, ("id", AdvisoryLockId));
        try
        {
            await ExecuteAsync(connection, null, """
                CREATE TABLE IF NOT EXISTS schema_migrations (
                    version    integer     PRIMARY KEY,
                    name       text        NOT NULL,
                    checksum   text        NOT NULL,
                    applied_at timestamptz NOT NULL DEFAULT now()
                )
                """, cancellationToken);
            var applied = await ReadAppliedAsync(connection, cancellationToken);
            var appliedNow = new List<MigrationFile>();
            foreach (var file in files)
            {
                if (applied.TryGetValue(file.Version, out var checksum))
                {
                    if (checksum != file.Checksum)
                        throw new MigrationException(
                            $"migrations/{file.FileName} was changed after it was applied (checksum {checksum[..12]}… in schema_migrations, {file.Checksum[..12]}… on disk); restore it and add a new migration instead");
                    continue;
                }
                await ApplyOneAsync(connection, file, cancellationToken);
                appliedNow.Add(file);
            }
            foreach (var version in applied.Keys.Where(v => files.All(f => f.Version != v)))
            {
                // A newer replica got here first; this one's code predates that file, which is fine while both run.
                Log.UnknownApplied(logger, version);
            }
            return appliedNow;
        }
        finally
        {
            if (connection.State == System.Data.ConnectionState.Open)
                await ExecuteAsync(connection, null, "SELECT pg_advisory_unlock(@id)", CancellationToken.None, ("id", AdvisoryLockId));
        }
    }

    private async Task ApplyOneAsync(NpgsqlConnection connection, MigrationFile file, CancellationToken cancellationToken)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        try
        {
            await ExecuteAsync(connection, transaction, file.Sql, cancellationToken);
        }
        catch (PostgresException e) when (!e.IsTransient)
        {
            throw new MigrationException($"migrations/{file.FileName} failed: {e.SqlState} {e.MessageText}");
        }
        await ExecuteAsync(connection, transaction, "INSERT INTO schema_migrations (version, name, checksum) VALUES (@version, @name, @checksum)",
            cancellationToken, ("version", file.Version), ("name", file.Name), ("checksum", file.Checksum));
        await transaction.CommitAsync(cancellationToken);
        Log.Applied(logger, file.FileName, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    private static async Task<Dictionary<int, string>> ReadAppliedAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT version, checksum FROM schema_migrations", connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var applied = new Dictionary<int, string>();
        while (await reader.ReadAsync(cancellationToken)) applied[reader.GetInt32(0)] = reader.GetString(1);
        return applied;
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken,
        params (string Name, object Value)[] parameters)
    {
        // No command timeout: a migration may legitimately take long, and waiting for the lock is the point.
        await using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 };
        foreach (var (name, value) in parameters) command.Parameters.AddWithValue(name, value);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Applied migration {File} in {ElapsedMs:F0} ms")]
        public static partial void Applied(ILogger logger, string file, double elapsedMs);

        [LoggerMessage(2, LogLevel.Information, "schema_migrations lists version {Version}, which this build has no file for (applied by a newer replica)")]
        public static partial void UnknownApplied(ILogger logger, int version);
    }
}
