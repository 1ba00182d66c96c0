namespace OllamaSimulator.Recording;

/// <summary>How a recorded request ended (<c>active</c> while it runs).</summary>
internal enum Outcome
{
    Active,
    Completed,
    Cancelled,
    Rejected,
    Faulted,
}
