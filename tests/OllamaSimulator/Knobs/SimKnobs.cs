namespace OllamaSimulator.Knobs;

/// <summary>
/// Everything a test may change while the simulator runs. Immutable: a change swaps the whole record,
/// so a request reads one consistent set. Property order is the JSON order of <c>GET /_sim/config</c>.
/// </summary>
internal sealed record SimKnobs
{
    public int FirstTokenDelayMs { get; init; }
    public int TokenIntervalMs { get; init; }
    public int Tokens { get; init; } = 8;
    public int LoadDelayMs { get; init; }
    public int ContextLength { get; init; } = 8192;
    public int MaxParallel { get; init; } = 4;
    public int MaxQueue { get; init; } = 512;
    public FaultMode Fault { get; init; } = FaultMode.None;
    public int FaultAfterTokens { get; init; } = 2;
    public int FaultStatus { get; init; } = 500;
    public string FaultMessage { get; init; } = "an error was encountered while running the model";
    public int FaultCount { get; init; } = -1;
    public bool TimestampTokens { get; init; }
    public ToolCallMode ToolCalls { get; init; } = ToolCallMode.Auto;
    public int EmbeddingDims { get; init; } = 768;

    /// <summary>Returns the first invalid knob (camelCase name) and what is wrong with it, or null.</summary>
    public (string Knob, string Problem)? Validate()
    {
        if (FirstTokenDelayMs < 0) return (nameof(FirstTokenDelayMs), "must be >= 0");
        if (TokenIntervalMs < 0) return (nameof(TokenIntervalMs), "must be >= 0");
        if (Tokens < 0) return (nameof(Tokens), "must be >= 0");
        if (LoadDelayMs < 0) return (nameof(LoadDelayMs), "must be >= 0");
        if (ContextLength < 1) return (nameof(ContextLength), "must be >= 1");
        if (MaxParallel < 1) return (nameof(MaxParallel), "must be >= 1");
        if (MaxQueue < 0) return (nameof(MaxQueue), "must be >= 0");
        if (!Enum.IsDefined(Fault)) return (nameof(Fault), "unknown fault mode");
        if (FaultAfterTokens < 0) return (nameof(FaultAfterTokens), "must be >= 0");
        if (FaultStatus is < 100 or > 599) return (nameof(FaultStatus), "must be an HTTP status (100-599)");
        if (FaultCount < -1) return (nameof(FaultCount), "must be -1 (every request) or >= 0");
        if (!Enum.IsDefined(ToolCalls)) return (nameof(ToolCalls), "must be auto or never");
        if (EmbeddingDims < 1) return (nameof(EmbeddingDims), "must be >= 1");
        return null;
    }
}
