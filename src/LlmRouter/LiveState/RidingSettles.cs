namespace LlmRouter.LiveState;

/// <summary>
/// Settles that may wait a moment go out with the next admission call instead of in a call of their own. They are the
/// settles of quiet leases (<see cref="Lease.Quiet"/>: nothing reads their counts while they run) that did not fail and
/// whose key is not near a limit. When requests come one after another, the admission taken ahead for the next request
/// then carries the previous request's settle: one Redis round trip per request instead of two. A settle waits at most
/// <see cref="DefaultWait"/> (real time, whatever clock admits requests); then the settles waiting go in a call of their own.
/// </summary>
/// <param name="send">Sends a batch of settles in one script call; <c>true</c> when it goes with an admission call.</param>
/// <param name="maxBatch">Settles per call at most; a full batch goes at once.</param>
/// <param name="maxWait">The longest a settle waits for an admission call to ride with.</param>
internal sealed class RidingSettles(Func<IReadOnlyList<SettleRequest>, bool, Task> send, int maxBatch, TimeSpan maxWait) : IDisposable
{
    /// <summary>
    /// Long enough that under steady traffic most settles ride with the spares' refills rather than wake a thread for a
    /// call of their own (at 5 ms, 200 calls a second did); short enough that a key's token count carries a request's
    /// reservation instead of its actual tokens only briefly. A request admitted the ordinary way whose key is near a
    /// limit is settled at once; one that took a spare never is (spares are only taken far from every limit), so its
    /// correction waits up to this long.
    /// </summary>
    public static readonly TimeSpan DefaultWait = TimeSpan.FromMilliseconds(20);

    private readonly Lock _lock = new();
    private Batch? _waiting;
    private Timer? _timer;

    /// <summary>Completes once the call that carried <paramref name="request"/> has been answered (or has failed).</summary>
    public Task Add(SettleRequest request)
    {
        // A task per settle, not the batch's: the callers' awaits then all run on the thread that got the reply
        // (see GroupCommit).
        var sent = new TaskCompletionSource();
        Batch batch;
        bool first, full;
        lock (_lock)
        {
            first = _waiting is null;
            batch = _waiting ??= new Batch();
            batch.Items.Add(request);
            batch.Waiters.Add(sent);
            full = batch.Items.Count >= maxBatch;
            if (full) _waiting = null;
        }
        if (full)
        {
            _ = SendAsync(batch, riding: false);
        }
        else if (first)
        {
            // One timer, made on first need; a batch started later re-arms it for its own full wait.
            var timer = Volatile.Read(ref _timer) ?? CreateTimer();
            timer.Change(maxWait, Timeout.InfiniteTimeSpan);
        }
        return sent.Task;
    }

    /// <summary>Starts sending the settles waiting now, if any, ahead of an admission call about to go out on the same connection.</summary>
    public void SendWith()
    {
        if (Take() is { } batch) _ = SendAsync(batch, riding: true);
    }

    public void Dispose()
    {
        Interlocked.Exchange(ref _timer, null)?.Dispose();
        // Nothing should be waiting (shutdown waits for every settle first); if something is, it goes now.
        if (Take() is { } batch) _ = SendAsync(batch, riding: false);
    }

    private Timer CreateTimer()
    {
        var timer = new Timer(static state => ((RidingSettles)state!).OnTimer(), this, Timeout.Infinite, Timeout.Infinite);
        var existing = Interlocked.CompareExchange(ref _timer, timer, null);
        if (existing is null) return timer;
        timer.Dispose();
        return existing;
    }

    private void OnTimer()
    {
        if (Take() is { } batch) _ = SendAsync(batch, riding: false);
    }

    private Batch? Take()
    {
        lock (_lock)
        {
            var batch = _waiting;
            _waiting = null;
            return batch;
        }
    }

    private async Task SendAsync(Batch batch, bool riding)
    {
        try
        {
            await send(batch.Items, riding);
        }
        catch (Exception e)
        {
            // The settle call logs Redis's failures itself; this is for the callers that wait (shutdown's drain).
            foreach (var waiter in batch.Waiters) waiter.TrySetException(e);
            return;
        }
        foreach (var waiter in batch.Waiters) waiter.TrySetResult();
    }

    private sealed class Batch
    {
        public List<SettleRequest> Items { get; } = [];
        public List<TaskCompletionSource> Waiters { get; } = [];
    }
}
