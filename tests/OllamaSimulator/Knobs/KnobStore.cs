namespace OllamaSimulator.Knobs;

/// <summary>Holds the current knobs and hands out injected faults, counting down <c>faultCount</c>.</summary>
internal sealed class KnobStore(SimKnobs initial)
{
    private readonly Lock _lock = new();
    private SimKnobs _current = initial;

    public SimKnobs Current => Volatile.Read(ref _current);

    public void Set(SimKnobs knobs)
    {
        lock (_lock) _current = knobs;
    }

    /// <summary>
    /// The fault the next generation request gets. A limited count is consumed here; when it runs out the
    /// knobs go back to <c>fault: none, faultCount: -1</c>, so setting another fault later means "every request" again.
    /// </summary>
    public FaultMode TakeFault()
    {
        lock (_lock)
        {
            var k = _current;
            if (k.Fault == FaultMode.None) return FaultMode.None;
            if (k.FaultCount < 0) return k.Fault;
            var remaining = k.FaultCount - 1;
            _current = remaining <= 0 ? k with { Fault = FaultMode.None, FaultCount = -1 } : k with { FaultCount = remaining };
            return remaining < 0 ? FaultMode.None : k.Fault;
        }
    }
}
