namespace LlmRouter.Usage;

internal sealed partial class UsageWriter
{
    private static partial class Log
    {
        [LoggerMessage(1, LogLevel.Warning, "Usage is NOT recorded: no general_settings.database_url is configured")]
        public static partial void NotRecorded(ILogger logger);

        [LoggerMessage(2, LogLevel.Warning, "Usage database unavailable; spilling usage rows to {Path} until it is back")]
        public static partial void DatabaseDown(ILogger logger, string path, Exception exception);

        [LoggerMessage(3, LogLevel.Information, "Usage database reachable again; replaying spilled usage")]
        public static partial void DatabaseBack(ILogger logger);

        [LoggerMessage(4, LogLevel.Information, "Found spilled usage rows in {Path}; they will be replayed")]
        public static partial void BacklogFound(ILogger logger, string path);

        [LoggerMessage(5, LogLevel.Information, "Replayed spilled usage from {Path}")]
        public static partial void Replayed(ILogger logger, string path);

        [LoggerMessage(6, LogLevel.Error, "Could not write {Count} usage rows to {Path}; keeping them in memory")]
        public static partial void SpillFailed(ILogger logger, int count, string path, Exception exception);

        [LoggerMessage(7, LogLevel.Error, "LOST {Count} usage rows: neither Postgres nor {Path} would take them at shutdown")]
        public static partial void Lost(ILogger logger, int count, string path, Exception? exception);

        [LoggerMessage(8, LogLevel.Warning, "Postgres refused a batch of {Count} usage rows ({SqlState}: {Message}); writing them one by one")]
        public static partial void BatchRefused(ILogger logger, int count, string sqlState, string message);

        [LoggerMessage(9, LogLevel.Error, "Usage row {Id} refused by Postgres ({SqlState}: {Message}); set aside in {Path}")]
        public static partial void RowRejected(ILogger logger, Guid id, string sqlState, string message, string path);

        [LoggerMessage(10, LogLevel.Warning, "Skipped {Count} unreadable lines in {Path} (a line cut short by a hard kill)")]
        public static partial void CorruptLines(ILogger logger, long count, string path);

        [LoggerMessage(11, LogLevel.Error, "Could not read the usage spill file {Path}; will try again")]
        public static partial void ReplayFailed(ILogger logger, string path, Exception exception);

        [LoggerMessage(12, LogLevel.Error, "Usage writer loop failed; retrying")]
        public static partial void LoopFailed(ILogger logger, Exception exception);

        [LoggerMessage(13, LogLevel.Warning, "Recovered {Count} usage rows from the crash journal {Path} ({Unreadable} unreadable), left by a process that ended before writing them; spilled to {SpillPath} for replay")]
        public static partial void Recovered(ILogger logger, int count, long unreadable, string path, string spillPath);

        [LoggerMessage(14, LogLevel.Warning, "No crash journal at {Path} (in use by another process, not writable, or no room on the disk): a hard kill loses the usage rows still in memory")]
        public static partial void JournalUnavailable(ILogger logger, string path, Exception exception);

        [LoggerMessage(15, LogLevel.Error, "{Count} usage rows could not be written at shutdown; they stay in the crash journal {Path} and are recovered at the next start")]
        public static partial void LeftInJournal(ILogger logger, int count, string? path);
    }
}

/// <summary>Counters since start, for tests and metrics.</summary>
internal readonly record struct UsageWriterStats(
    long Discarded, long Overflowed, long Written, long Duplicates, long Spilled, long Replayed, long Rejected, long Recovered,
    long Unjournaled);
