namespace OllamaSimulator.Recording;

/// <summary>Counts over generation requests since start or the last reset (<c>GET /_sim/stats</c>).</summary>
internal sealed record SimStats(
    long Received,
    long Active,
    long Completed,
    long Cancelled,
    long Rejected,
    long Faulted,
    int Held,
    int Queued);
