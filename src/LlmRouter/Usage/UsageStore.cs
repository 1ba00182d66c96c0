using System.Data;
using Npgsql;
using NpgsqlTypes;

namespace LlmRouter.Usage;

/// <summary>
/// Writes usage batches: one statement inserts the rows, adds exactly the newly inserted ones to the daily
/// rollup and bumps the keys' <c>last_used_at</c>. The statement is atomic and idempotent (ON CONFLICT on the
/// router-generated id), so a batch whose commit outcome is unknown can simply be written again.
/// One caller at a time (the usage writer's loop): the store keeps one connection open with the statement prepared on
/// it, so a batch is one statement on the server, with no parse and plan and no connection reset around it.
/// </summary>
internal sealed class UsageStore(NpgsqlDataSource source, TimeProvider time) : IDisposable, IAsyncDisposable
{
    /// <summary>How long a missing <c>api_keys</c> table is believed missing (the key migration may run later).</summary>
    private static readonly TimeSpan ApiKeysRecheck = TimeSpan.FromSeconds(10);
    private const int CommandTimeoutSeconds = 30;
    private const int DeadlockRetries = 3;

    private bool _apiKeysExist;
    private DateTimeOffset _apiKeysCheckedAt = DateTimeOffset.MinValue;
    private NpgsqlConnection? _connection;

    /// <summary>Writes the rows; returns how many were new (the rest were already there).</summary>
    public async Task<int> InsertAsync(IReadOnlyList<UsageRecord> rows, CancellationToken cancellationToken)
    {
        if (rows.Count == 0) return 0;
        for (var attempt = 1; ; attempt++)
        {
            var reused = _connection is not null;
            var connection = _connection ??= await source.OpenConnectionAsync(cancellationToken);
            try
            {
                return await InsertOnAsync(connection, rows, cancellationToken);
            }
            catch (Exception) when (connection.State != ConnectionState.Open)
            {
                // The connection broke (Postgres restarted, an idle connection was closed): the next call opens a new one.
                _connection = null;
                await connection.DisposeAsync();
                // A connection that sat open since the last batch may have been closed meanwhile: try once on a fresh one
                // before the writer counts Postgres as down (safe even if the batch landed: the statement is idempotent).
                if (!reused || attempt > 1 || cancellationToken.IsCancellationRequested) throw;
            }
        }
    }

    private async Task<int> InsertOnAsync(NpgsqlConnection connection, IReadOnlyList<UsageRecord> rows, CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            var withLastUsed = await ApiKeysExistAsync(connection, cancellationToken);
            try
            {
                await using var command = new NpgsqlCommand(withLastUsed ? UsageSql.InsertWithLastUsed : UsageSql.Insert, connection)
                {
                    CommandTimeout = CommandTimeoutSeconds,
                };
                AddColumns(command.Parameters, rows);
                // Prepared once on this connection (later commands find it by its text): without it, Postgres parses and
                // plans the four-part statement for every batch, about a fifth of the batch's CPU on the database.
                await command.PrepareAsync(cancellationToken);
                return Convert.ToInt32(await command.ExecuteScalarAsync(cancellationToken));
            }
            catch (PostgresException e) when (withLastUsed && e.SqlState == PostgresErrorCodes.UndefinedTable && e.MessageText.Contains("api_keys", StringComparison.Ordinal))
            {
                _apiKeysExist = false;
                _apiKeysCheckedAt = time.GetUtcNow();
            }
            catch (PostgresException e) when (attempt < DeadlockRetries && e.SqlState is PostgresErrorCodes.DeadlockDetected or PostgresErrorCodes.SerializationFailure)
            {
                // Two replicas bumping the same rollup rows; the statement rolled back as a whole, so just run it again.
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is { } connection)
        {
            _connection = null;
            await connection.DisposeAsync();
        }
    }

    public void Dispose()
    {
        _connection?.Dispose();
        _connection = null;
    }

    private async ValueTask<bool> ApiKeysExistAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        if (_apiKeysExist || time.GetUtcNow() - _apiKeysCheckedAt < ApiKeysRecheck) return _apiKeysExist;
        await using var command = new NpgsqlCommand("SELECT to_regclass('api_keys') IS NOT NULL", connection);
        _apiKeysExist = (bool)(await command.ExecuteScalarAsync(cancellationToken))!;
        _apiKeysCheckedAt = time.GetUtcNow();
        return _apiKeysExist;
    }

    private static void AddColumns(NpgsqlParameterCollection parameters, IReadOnlyList<UsageRecord> rows)
    {
        var n = rows.Count;
        var id = new Guid[n];
        var clientRequestId = new string?[n];
        var keyId = new Guid?[n];
        var model = new string[n];
        var requestedModel = new string[n];
        var deploymentId = new string?[n];
        var backend = new string?[n];
        var promptTokens = new int[n];
        var completionTokens = new int[n];
        var cost = new decimal[n];
        var status = new int[n];
        var errorType = new string?[n];
        var ttft = new double?[n];
        var duration = new double[n];
        var streamed = new bool[n];
        var endUser = new string?[n];
        var startedAt = new DateTime[n];
        for (var i = 0; i < n; i++)
        {
            var r = rows[i];
            id[i] = r.Id;
            clientRequestId[i] = UsageText.Clean(r.ClientRequestId);
            keyId[i] = r.KeyId;
            model[i] = UsageText.Clean(r.Model) ?? "";
            requestedModel[i] = UsageText.Clean(r.RequestedModel) ?? "";
            deploymentId[i] = UsageText.Clean(r.DeploymentId);
            backend[i] = UsageText.Clean(r.Backend);
            promptTokens[i] = r.PromptTokens;
            completionTokens[i] = r.CompletionTokens;
            cost[i] = r.Cost;
            status[i] = r.Status;
            errorType[i] = UsageText.Clean(r.ErrorType);
            ttft[i] = r.TimeToFirstTokenMs;
            duration[i] = r.DurationMs;
            streamed[i] = r.Streamed;
            endUser[i] = UsageText.Clean(r.EndUser);
            startedAt[i] = r.StartedAt.UtcDateTime;
        }
        parameters.Add(new NpgsqlParameter<Guid[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid, TypedValue = id });
        parameters.Add(new NpgsqlParameter<string?[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = clientRequestId });
        parameters.Add(new NpgsqlParameter<Guid?[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Uuid, TypedValue = keyId });
        parameters.Add(new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = model });
        parameters.Add(new NpgsqlParameter<string[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = requestedModel });
        parameters.Add(new NpgsqlParameter<string?[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = deploymentId });
        parameters.Add(new NpgsqlParameter<string?[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = backend });
        parameters.Add(new NpgsqlParameter<int[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer, TypedValue = promptTokens });
        parameters.Add(new NpgsqlParameter<int[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer, TypedValue = completionTokens });
        parameters.Add(new NpgsqlParameter<decimal[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Numeric, TypedValue = cost });
        parameters.Add(new NpgsqlParameter<int[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Integer, TypedValue = status });
        parameters.Add(new NpgsqlParameter<string?[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = errorType });
        parameters.Add(new NpgsqlParameter<double?[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double, TypedValue = ttft });
        parameters.Add(new NpgsqlParameter<double[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Double, TypedValue = duration });
        parameters.Add(new NpgsqlParameter<bool[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Boolean, TypedValue = streamed });
        parameters.Add(new NpgsqlParameter<string?[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.Text, TypedValue = endUser });
        parameters.Add(new NpgsqlParameter<DateTime[]> { NpgsqlDbType = NpgsqlDbType.Array | NpgsqlDbType.TimestampTz, TypedValue = startedAt });
    }
}
