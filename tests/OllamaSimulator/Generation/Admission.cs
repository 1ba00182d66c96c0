using OllamaSimulator.Knobs;
using OllamaSimulator.Scheduling;

namespace OllamaSimulator.Generation;

/// <summary>A request that got a slot and a loaded model; disposing it frees the slot.</summary>
/// <param name="Fault">A "-mid" fault still to strike during the answer, else <see cref="FaultMode.None"/>.</param>
/// <param name="Knobs">The knobs read once the request was let through, used for the whole answer.</param>
/// <param name="LoadedAt">Stopwatch timestamp when the model was ready; ends <c>load_duration</c>.</param>
internal sealed record Admission(SlotLease Lease, FaultMode Fault, SimKnobs Knobs, long LoadedAt) : IDisposable
{
    public void Dispose() => Lease.Dispose();
}
