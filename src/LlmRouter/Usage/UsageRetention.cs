using LlmRouter.Configuration;
using LlmRouter.Data;
using Npgsql;

namespace LlmRouter.Usage;

/// <summary>
/// Deletes per-request usage rows older than <c>maximum_spend_logs_retention_period</c> (LiteLLM's setting), once at
/// start and then every hour, so the table stops growing with traffic (a client hammering past its limit writes a row
/// per refusal). The daily and hourly rollups are kept: the admin API's totals and the key counters' rebuilds read
/// those. Every replica does it; they delete in batches, so several at once only share the work.
/// </summary>
internal sealed partial class UsageRetention(Database database, DatabaseState state, GeneralSettings settings, TimeProvider time,
    ILogger<UsageRetention> logger) : BackgroundService
{
    private const int BatchRows = 5_000;
    private static readonly TimeSpan Interval = TimeSpan.FromHours(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (settings.UsageRetention is not { } keep || database.Source is not { } source) return;
        await state.WhenReady.WaitAsync(stoppingToken);
        using var timer = new PeriodicTimer(Interval, time);
        do
        {
            try
            {
                var deleted = await DeleteOlderThanAsync(source, time.GetUtcNow() - keep, stoppingToken);
                if (deleted > 0) Log.Deleted(logger, deleted, Keys.Durations.Format(keep));
            }
            catch (Exception e) when (e is NpgsqlException or TimeoutException)
            {
                Log.Failed(logger, e.Message);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken));
    }

    /// <summary>Deletes rows started before <paramref name="cutoff"/>, a batch per statement (short locks, bounded WAL); returns how many.</summary>
    public static async Task<long> DeleteOlderThanAsync(NpgsqlDataSource source, DateTimeOffset cutoff, CancellationToken cancellationToken)
    {
        long total = 0;
        await using var connection = await source.OpenConnectionAsync(cancellationToken);
        while (true)
        {
            await using var command = new NpgsqlCommand(
                "DELETE FROM usage WHERE id IN (SELECT id FROM usage WHERE started_at < $1 LIMIT $2)", connection);
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = cutoff });
            command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = BatchRows });
            var deleted = await command.ExecuteNonQueryAsync(cancellationToken);
            total += deleted;
            if (deleted < BatchRows) return total;
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Deleted {Count} usage rows older than {Retention} (maximum_spend_logs_retention_period); rollups kept")]
        public static partial void Deleted(ILogger logger, long count, string retention);

        [LoggerMessage(2, LogLevel.Warning, "Deleting old usage rows failed ({Error}); tried again in an hour")]
        public static partial void Failed(ILogger logger, string error);
    }
}
