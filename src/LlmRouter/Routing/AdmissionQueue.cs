using System.Collections.Concurrent;
using LlmRouter.Configuration;
using LlmRouter.Errors;
using LlmRouter.LiveState;

namespace LlmRouter.Routing;

/// <summary>
/// When every deployment of a group is at its limit, requests wait here instead of piling onto Ollama: a bounded
/// FIFO per group in this replica. Only the head re-tries admission, at once when a local slot frees and every
/// <see cref="RecheckInterval"/> for slots freed on other replicas. Past the bound or the wait: 503 + Retry-After.
/// </summary>
internal sealed class AdmissionQueue
{
    public static readonly TimeSpan RecheckInterval = TimeSpan.FromMilliseconds(100);

    private readonly RouterSettings _settings;
    private readonly TimeProvider _time;
    private readonly ConcurrentDictionary<string, GroupQueue> _queues = new(StringComparer.Ordinal);

    public AdmissionQueue(RouterSettings settings, ILiveState state, TimeProvider time)
    {
        _settings = settings;
        _time = time;
        state.SlotReleased += group =>
        {
            if (_queues.TryGetValue(group, out var queue)) queue.WakeHead();
        };
    }

    public int Waiting(string group) => _queues.TryGetValue(group, out var queue) ? queue.Count : 0;

    /// <summary>Waits its turn, then admits; returns the first result that is not <see cref="AdmissionStatus.Busy"/>.</summary>
    public async Task<AdmissionResult> WaitAsync(string group, Func<ValueTask<AdmissionResult>> admit, DateTimeOffset deadline,
        CancellationToken cancellationToken)
    {
        var queue = _queues.GetOrAdd(group, _ => new GroupQueue());
        var waiter = queue.TryEnter(_settings.QueueSize)
            ?? throw new ApiErrorException(ApiError.Overloaded($"Every deployment of '{group}' is busy and its queue is full.", retryAfterSeconds: 1));
        try
        {
            var giveUp = Min(deadline, _time.GetUtcNow() + _settings.QueueTimeout);
            while (true)
            {
                var remaining = giveUp - _time.GetUtcNow();
                if (remaining <= TimeSpan.Zero)
                    throw new ApiErrorException(ApiError.Overloaded(
                        $"Every deployment of '{group}' stayed busy for {_settings.QueueTimeout.TotalSeconds:0.#} s.", retryAfterSeconds: 1));
                await waiter.WaitAsync(remaining < RecheckInterval ? remaining : RecheckInterval, cancellationToken);
                if (!queue.IsHead(waiter)) continue;
                var result = await admit();
                if (result.Status != AdmissionStatus.Busy) return result;
            }
        }
        finally
        {
            queue.Leave(waiter);
        }
    }

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    private sealed class GroupQueue
    {
        private readonly Lock _lock = new();
        private readonly LinkedList<Waiter> _waiters = new();

        public int Count
        {
            get { lock (_lock) return _waiters.Count; }
        }

        public Waiter? TryEnter(int bound)
        {
            lock (_lock)
            {
                if (_waiters.Count >= bound) return null;
                var waiter = new Waiter();
                _waiters.AddLast(waiter);
                if (_waiters.Count == 1) waiter.Wake();
                return waiter;
            }
        }

        public bool IsHead(Waiter waiter)
        {
            lock (_lock) return _waiters.First?.Value == waiter;
        }

        public void Leave(Waiter waiter)
        {
            lock (_lock)
            {
                var wasHead = _waiters.First?.Value == waiter;
                _waiters.Remove(waiter);
                if (wasHead) _waiters.First?.Value.Wake();
            }
        }

        public void WakeHead()
        {
            lock (_lock) _waiters.First?.Value.Wake();
        }
    }

    private sealed class Waiter
    {
        private readonly SemaphoreSlim _signal = new(0, 1);

        public void Wake()
        {
            try
            {
                _signal.Release();
            }
            catch (SemaphoreFullException)
            {
                // Already signalled; one wake-up is enough.
            }
        }

        public async Task WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
        {
            using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timer.CancelAfter(timeout);
            try
            {
                await _signal.WaitAsync(timer.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // The periodic re-check: a slot may have freed on another replica.
            }
        }
    }
}
