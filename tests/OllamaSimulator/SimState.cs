using OllamaSimulator.Knobs;
using OllamaSimulator.Models;
using OllamaSimulator.Recording;
using OllamaSimulator.Scheduling;
using OllamaSimulator.Startup;

namespace OllamaSimulator;

/// <summary>All mutable simulator state, one instance per process, shared by the Ollama, OpenAI and control endpoints.</summary>
internal sealed class SimState(SimStartup startup)
{
    public SimStartup Startup => startup;
    public KnobStore Knobs { get; } = new(startup.Knobs);
    public ModelStore Models { get; } = new(startup.Models, startup.Loaded);
    public SlotGate Slots { get; } = new(startup.Knobs.MaxParallel, startup.Knobs.MaxQueue);
    public HoldGate Hold { get; } = new();
    public RequestLog Log { get; } = new();

    /// <summary>Swaps in new knobs; slot limits apply at once, also to requests already waiting.</summary>
    public void ApplyKnobs(SimKnobs knobs)
    {
        Knobs.Set(knobs);
        Slots.Configure(knobs.MaxParallel, knobs.MaxQueue);
    }

    public void Reset()
    {
        Log.Clear();
        Hold.Release();
        ApplyKnobs(startup.Knobs);
        Models.Replace(startup.Models, startup.Loaded);
    }

    public SimStats Stats() => Log.Stats(Hold.Held, Slots.Queued);

    public static SimState Of(HttpContext ctx) => ctx.RequestServices.GetRequiredService<SimState>();
}
