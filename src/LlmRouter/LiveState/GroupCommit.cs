namespace LlmRouter.LiveState;

/// <summary>
/// Group commit: items that arrive while one call is on its way go together in the next call. Idle, an item is sent
/// at once (no timer, no added delay); under load one call carries many, so round trips per request fall below one
/// and nothing queues behind a slow call but the items that arrived during it.
/// </summary>
/// <param name="send">Sends a batch in one call and returns one result per item, in order.</param>
/// <param name="maxBatch">Items per call at most; a longer queue goes in several calls, one after the other.</param>
internal sealed class GroupCommit<TItem, TResult>(Func<IReadOnlyList<TItem>, Task<TResult[]>> send, int maxBatch)
{
    private readonly Lock _lock = new();
    private Batch _open = new();
    private bool _sending;

    /// <summary>The result of the call that carried <paramref name="item"/>, or its exception.</summary>
    public async Task<TResult> SendAsync(TItem item)
    {
        var batch = Add(item, more: null, out var index);
        var results = await batch.Sent.Task;
        return results[index];
    }

    /// <summary>Several items in the same call (unless it is full): the result of each, in order.</summary>
    public Task<TResult>[] SendAll(IReadOnlyList<TItem> items)
    {
        var batch = Add(default!, items, out var first);
        var results = new Task<TResult>[items.Count];
        for (var i = 0; i < results.Length; i++) results[i] = ResultAsync(batch, first + i);
        return results;
    }

    /// <summary>Adds <paramref name="item"/> (or, when given, <paramref name="more"/> instead) to the open batch, and starts sending if idle.</summary>
    /// <param name="first">Where the first item added sits in the batch.</param>
    private Batch Add(TItem item, IReadOnlyList<TItem>? more, out int first)
    {
        Batch batch;
        bool start;
        lock (_lock)
        {
            batch = _open;
            first = batch.Items.Count;
            if (more is null) batch.Items.Add(item);
            else batch.Items.AddRange(more);
            start = !_sending;
            _sending = true;
        }
        if (start) _ = SendOpenBatchesAsync();
        return batch;
    }

    private static async Task<TResult> ResultAsync(Batch batch, int index) => (await batch.Sent.Task)[index];

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
            try
            {
                batch.Sent.TrySetResult(await SendInPartsAsync(batch.Items));
            }
            catch (Exception e)
            {
                batch.Sent.TrySetException(e);
            }
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
        // Callers continue on the thread that got the reply, one after the other: no thread hop per request.
        public TaskCompletionSource<TResult[]> Sent { get; } = new();
    }
}
