namespace OllamaSimulator.Scheduling;

/// <summary>
/// Ollama's scheduler in miniature: at most <c>maxParallel</c> requests generate at once, at most <c>maxQueue</c> wait,
/// anything past that is turned away (503). Unlike <see cref="SemaphoreSlim"/> both limits can change while requests
/// wait, and the number of waiters is visible, which is what the queue-full rule needs.
/// </summary>
internal sealed class SlotGate
{
    private readonly Lock _lock = new();
    private readonly LinkedList<TaskCompletionSource> _waiters = new();
    private int _active;
    private int _maxParallel;
    private int _maxQueue;

    public SlotGate(int maxParallel, int maxQueue) => Configure(maxParallel, maxQueue);

    public int Queued
    {
        get { lock (_lock) return _waiters.Count; }
    }

    public void Configure(int maxParallel, int maxQueue)
    {
        lock (_lock)
        {
            _maxParallel = maxParallel;
            _maxQueue = maxQueue;
            GrantWaiters();
        }
    }

    /// <summary>
    /// Takes a slot, waiting in line if needed. Returns null when the line is full.
    /// Throws <see cref="OperationCanceledException"/> if <paramref name="ct"/> fires while waiting.
    /// </summary>
    public async ValueTask<SlotLease?> EnterAsync(CancellationToken ct)
    {
        LinkedListNode<TaskCompletionSource> node;
        lock (_lock)
        {
            if (_active < _maxParallel && _waiters.Count == 0)
            {
                _active++;
                return new SlotLease(this);
            }
            if (_waiters.Count >= _maxQueue) return null;
            node = _waiters.AddLast(new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously));
        }

        try
        {
            await node.Value.Task.WaitAsync(ct).ConfigureAwait(false);
            return new SlotLease(this);
        }
        catch (OperationCanceledException)
        {
            bool granted;
            lock (_lock)
            {
                granted = node.List is null;
                if (!granted) _waiters.Remove(node);
            }
            // The slot was granted just as the client left: hand it straight back.
            if (granted) Release();
            throw;
        }
    }

    internal void Release()
    {
        lock (_lock)
        {
            _active--;
            GrantWaiters();
        }
    }

    private void GrantWaiters()
    {
        while (_active < _maxParallel && _waiters.First is { } first)
        {
            _waiters.RemoveFirst();
            _active++;
            first.Value.TrySetResult();
        }
    }
}
