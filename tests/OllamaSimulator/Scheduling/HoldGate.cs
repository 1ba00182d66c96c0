namespace OllamaSimulator.Scheduling;

/// <summary>
/// <c>POST /_sim/hold</c> closes this gate: requests that got a slot wait here, before writing any byte, until
/// <c>POST /_sim/release</c> opens it for everyone waiting and everyone after. Lets a test fill the slots and the
/// queue deterministically.
/// </summary>
internal sealed class HoldGate
{
    private readonly Lock _lock = new();
    private TaskCompletionSource? _closed;
    private int _held;

    public int Held => Volatile.Read(ref _held);

    public void Hold()
    {
        lock (_lock) _closed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
    }

    public void Release()
    {
        TaskCompletionSource? closed;
        lock (_lock)
        {
            closed = _closed;
            _closed = null;
        }
        closed?.TrySetResult();
    }

    public async ValueTask WaitAsync(CancellationToken ct)
    {
        TaskCompletionSource? closed;
        lock (_lock) closed = _closed;
        if (closed is null) return;

        Interlocked.Increment(ref _held);
        try
        {
            await closed.Task.WaitAsync(ct).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _held);
        }
    }
}
