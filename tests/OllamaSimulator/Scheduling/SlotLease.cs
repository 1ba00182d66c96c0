namespace OllamaSimulator.Scheduling;

/// <summary>One taken slot; disposing it gives the slot back exactly once.</summary>
internal sealed class SlotLease(SlotGate gate) : IDisposable
{
    private int _released;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) gate.Release();
    }
}
