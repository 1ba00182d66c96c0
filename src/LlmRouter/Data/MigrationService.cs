namespace LlmRouter.Data;

/// <summary>
/// Applies migrations at start-up without holding the start-up up: when Postgres is down the router serves anyway
/// (master key and cached keys work) and this keeps retrying, with a backoff up to 10 s, until the schema is current.
/// </summary>
internal sealed partial class MigrationService(
    Database database, DatabaseState state, MigrationRunner runner, TimeProvider time, ILogger<MigrationService> logger) : BackgroundService
{
    public static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(10);

    /// <summary>Where the .sql files are read from; tests point it elsewhere.</summary>
    public string Directory { get; init; } = MigrationRunner.DefaultDirectory;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (database.Source is not { } source) return;
        var backoff = TimeSpan.FromSeconds(1);
        string? lastError = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                var applied = await runner.ApplyAsync(source, Directory, stoppingToken);
                state.SetReady();
                Log.Ready(logger, applied.Count);
                return;
            }
            catch (MigrationException e)
            {
                state.SetFailed(e.Message);
                Log.Failed(logger, e.Message);
                return;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                // Logged when the reason changes, not on every retry: an outage should not flood the log.
                if (e.Message != lastError) Log.Retrying(logger, e.Message, backoff.TotalSeconds);
                lastError = e.Message;
            }
            try
            {
                await Task.Delay(backoff, time, stoppingToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, MaxBackoff.Ticks));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Information, "Database schema is current ({Applied} migrations applied now)")]
        public static partial void Ready(ILogger logger, int applied);

        [LoggerMessage(2, LogLevel.Warning, "Database not usable yet ({Reason}); keys endpoints answer 503, next try in {Seconds} s (backoff up to 10 s)")]
        public static partial void Retrying(ILogger logger, string reason, double seconds);

        [LoggerMessage(3, LogLevel.Critical, "Database migrations failed and will not be retried: {Reason}")]
        public static partial void Failed(ILogger logger, string reason);
    }
}
