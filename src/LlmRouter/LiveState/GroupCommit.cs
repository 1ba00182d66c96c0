namespace LlmRouter.LiveState;

/// <summary>
/// Group commit: items that arrive while one call is on its way go together in the next call. Idle, an item is sent
/// at once (no timer, no added delay); under load one call carries many, so round trips per request fall below one
/// and nothing queues behind a slow call but the items that arrived during it.
/// </summary>
/// <remarks>
/// Each item has a task of its own, completed one after the other on the thread that got the reply. One task shared by
/// every caller would run only one of them there: .NET queues the other awaits of a task to the thread pool.
/// </remarks>
/// <param name="send">Sends a batch in one call and returns one result per item, in order.</param>
/// <param name="maxBatch">Items per call at most; a longer queue goes in several calls, one after the other.</param>
/// <param name="inTurn">
/// Every caller goes on in turn on the thread that got the reply. Best where the callers' work is short, or where the
/// process has one CPU, on which a thread-pool hop is a worker woken to run there anyway (then spinning). Otherwise only
/// the first does, and the others are queued to the thread pool to run side by side.
/// </param>
internal sealed class GroupCommit<TItem, TResult>(Func<IReadOnlyList<TItem>, Task<TResult[]>> send, int maxBatch, bool inTurn)
{
    private readonly Lock _lock = new();
    private Batch _open = new();
    private bool _sending;

    /// <summary>The result of the call that carried <paramref name="item"/>, or its exception.</summary>
    public Task<TResult> SendAsync(TItem item)
    {
        Task<TResult> result;
        bool start;
        lock (_lock)
        {
            result = _open.Add(item, inTurn);
            start = Start();
        }
        if (start) _ = SendOpenBatchesAsync();
        return result;
    }

    /// <summary>Several items in the same call (unless it is full): the result of each, in order.</summary>
    public Task<TResult>[] SendAll(IReadOnlyList<TItem> items)
    {
        var results = new Task<TResult>[items.Count];
        bool start;
        lock (_lock)
        {
            for (var i = 0; i < items.Count; i++) results[i] = _open.Add(items[i], inTurn);
            start = Start();
        }
        if (start) _ = SendOpenBatchesAsync();
        return results;
    }

    /// <summary>Whether the caller, having added to the open batch, is the one to start sending (under the lock).</summary>
    private bool Start()
    {
        if (_sending) return false;
        _sending = true;
        return true;
    }

    private async Task SendOpenBatchesAsync()
    {
        while (true)
        {
            Batch batch;
            lock (_lock)
            {
                if (_open.Items.Count == 0)
                {
                    _sending = false;
                    return;
                }
                batch = _open;
                _open = new Batch();
            }
            TResult[] results;
            try
            {
                results = await SendInPartsAsync(batch.Items);
            }
            catch (Exception e)
            {
                foreach (var waiter in batch.Waiters) waiter.TrySetException(e);
                continue;
            }
            for (var i = 0; i < batch.Waiters.Count; i++) batch.Waiters[i].TrySetResult(results[i]);
        }
    }

    private async Task<TResult[]> SendInPartsAsync(List<TItem> items)
    {
        if (items.Count <= maxBatch) return await send(items);
        var results = new TResult[items.Count];
        for (var i = 0; i < items.Count; i += maxBatch)
        {
            var part = await send(items.GetRange(i, Math.Min(maxBatch, items.Count - i)));
            part.CopyTo(results, i);
        }
        return results;
    }

    private sealed class Batch
    {
        public List<TItem> Items { get; } = [];
        public List<TaskCompletionSource<TResult>> Waiters { get; } = [];

        public Task<TResult> Add(TItem item, bool inTurn)
        {
            var waiter = new TaskCompletionSource<TResult>(inTurn || Items.Count == 0 ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously);
            Items.Add(item);
            Waiters.Add(waiter);
            return waiter.Task;
        }
    }
}
