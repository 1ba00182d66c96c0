using LlmRouter.Configuration;

namespace LlmRouter.Usage;

/// <summary>Tuning of <see cref="UsageWriter"/>; the interval, the spill path and the journal's size are in config.yaml.</summary>
internal sealed record UsageWriterOptions
{
    /// <summary><c>general_settings.usage_flush_interval</c>: how long a row waits in memory (and in the crash journal) for its batch.</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromSeconds(1);
    /// <summary><c>general_settings.usage_spill_path</c>.</summary>
    public required string SpillPath { get; init; }
    /// <summary>
    /// <c>general_settings.usage_journal_mb</c>: size of the crash journal next to the spill file
    /// (<see cref="UsageJournal"/>), 0 for none. 4 MiB holds about 9,000 rows waiting for their batch; a row that finds
    /// it full goes on without (counted).
    /// </summary>
    public long JournalBytes { get; init; } = 4 * 1024 * 1024;
    /// <summary>Rows held in memory before they overflow to the spill file (about 3 MB).</summary>
    public int ChannelCapacity { get; init; } = 10_000;
    /// <summary>A batch this big is written at once instead of waiting for the interval.</summary>
    public int FlushAtRows { get; init; } = 500;
    /// <summary>Most rows in one statement, when the writer has fallen behind.</summary>
    public int MaxBatchRows { get; init; } = 5_000;
    /// <summary>First wait before trying Postgres again after a failure; doubles up to <see cref="RetryMax"/>.</summary>
    public TimeSpan RetryMin { get; init; } = TimeSpan.FromMilliseconds(250);
    public TimeSpan RetryMax { get; init; } = TimeSpan.FromSeconds(5);

    public static UsageWriterOptions From(GeneralSettings settings) => new()
    {
        FlushInterval = settings.UsageFlushInterval,
        SpillPath = settings.UsageSpillPath,
        JournalBytes = settings.UsageJournalBytes,
    };
}
