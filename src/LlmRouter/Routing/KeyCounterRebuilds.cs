using System.Collections.Concurrent;
using LlmRouter.LiveState;
using LlmRouter.Usage;

namespace LlmRouter.Routing;

/// <summary>
/// Builds a key's live counters from recorded usage when the live state has none for its period (first use in a
/// period, a router without Redis that just started, or Redis lost its state). The requests of one key that arrive
/// while its counters are being rebuilt wait for that one read of Postgres instead of each making their own: after a
/// restart a busy key's first burst would otherwise send one query per request, all for the same answer.
/// When the usage store is unreachable the counters start from what the live state has, and the rebuild is retried
/// after a short while: availability over a perfect count, and the retry errs on the side of counting twice, never
/// not at all.
/// </summary>
internal sealed partial class KeyCounterRebuilds(ILiveState state, KeyUsageReader usage, TimeProvider time, ILogger<KeyCounterRebuilds> logger)
{
    /// <summary>A read that takes longer counts as the store being unreachable (it reads at most about an hour of rows).</summary>
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(10);

    private readonly ConcurrentDictionary<(Guid Key, string Period), Task> _running = new();
    private long _started;
    private int _waiting;

    /// <summary>Reads of recorded usage started since the process started.</summary>
    public long Started => Interlocked.Read(ref _started);

    /// <summary>Requests waiting for a key's counters now.</summary>
    public int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Returns once the key's counters are in the live state; a cancelled request stops waiting, not the read.</summary>
    public async Task RebuildAsync(KeyAdmission key, CancellationToken cancellationToken)
    {
        var id = (key.KeyId, key.QuotaBucket);
        Interlocked.Increment(ref _waiting);
        try
        {
            // Only the request whose task went in starts the read (a GetOrAdd factory may run more than once in a race).
            var mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var rebuild = _running.GetOrAdd(id, mine.Task);
            if (rebuild == mine.Task) _ = ReadAndSeedAsync(key, id, mine);
            await rebuild.WaitAsync(cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    private async Task ReadAndSeedAsync(KeyAdmission key, (Guid, string) id, TaskCompletionSource done)
    {
        Exception? failure = null;
        try
        {
            await SeedFromUsageAsync(key);
        }
        catch (Exception e)
        {
            failure = e;
        }
        // Forgotten before the waiters go on, so the next time the live state asks (the period's end, a guess that
        // expired) reads again, and nothing stays behind for keys never used again.
        _running.TryRemove(KeyValuePair.Create(id, done.Task));
        if (failure is null) done.SetResult();
        else done.SetException(failure);
    }

    private async Task SeedFromUsageAsync(KeyAdmission key)
    {
        Interlocked.Increment(ref _started);
        var now = time.GetUtcNow();
        using var limit = new CancellationTokenSource(ReadTimeout, time);
        try
        {
            var recorded = await usage.ReadAsync(key.KeyId, key.PeriodStart, TimeBuckets.MinuteStart(now), limit.Token);
            await state.SeedAsync(key, recorded, now);
            Log.Rebuilt(logger, key.KeyId, recorded.PeriodTokens, recorded.MinuteRequests);
        }
        catch (Exception e) when (e is Npgsql.NpgsqlException or TimeoutException or InvalidOperationException
                                  || e is OperationCanceledException && limit.IsCancellationRequested)
        {
            Log.Guessed(logger, e is OperationCanceledException ? $"no answer within {ReadTimeout.TotalSeconds:0} s" : e.GetType().Name, key.KeyId);
            await state.SeedAsync(key, default, now, markerTtl: TimeSpan.FromSeconds(30));
        }
    }

    private static partial class Log
    {
        [LoggerMessage(31, LogLevel.Information, "Rebuilt the counters of key {KeyId} from recorded usage: {PeriodTokens} tokens this period, {MinuteRequests} requests this minute")]
        public static partial void Rebuilt(ILogger logger, Guid keyId, long periodTokens, long minuteRequests);

        [LoggerMessage(30, LogLevel.Warning, "Usage store unreachable ({Error}) while seeding the counters of key {KeyId}; they start from the live state and are re-seeded in 30 s")]
        public static partial void Guessed(ILogger logger, string error, Guid keyId);
    }
}
