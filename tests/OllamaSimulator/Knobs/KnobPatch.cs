using System.Text.Json.Serialization;

namespace OllamaSimulator.Knobs;

/// <summary>Body of <c>POST /_sim/config</c>: any subset of the knobs. Unknown keys are refused so a typo fails loudly.</summary>
[JsonUnmappedMemberHandling(JsonUnmappedMemberHandling.Disallow)]
internal sealed record KnobPatch
{
    public int? FirstTokenDelayMs { get; init; }
    public int? TokenIntervalMs { get; init; }
    public int? Tokens { get; init; }
    public int? LoadDelayMs { get; init; }
    public int? ContextLength { get; init; }
    public int? MaxParallel { get; init; }
    public int? MaxQueue { get; init; }
    public FaultMode? Fault { get; init; }
    public int? FaultAfterTokens { get; init; }
    public int? FaultStatus { get; init; }
    public string? FaultMessage { get; init; }
    public int? FaultCount { get; init; }
    public bool? TimestampTokens { get; init; }
    public ToolCallMode? ToolCalls { get; init; }
    public int? EmbeddingDims { get; init; }

    public SimKnobs ApplyTo(SimKnobs k) => k with
    {
        FirstTokenDelayMs = FirstTokenDelayMs ?? k.FirstTokenDelayMs,
        TokenIntervalMs = TokenIntervalMs ?? k.TokenIntervalMs,
        Tokens = Tokens ?? k.Tokens,
        LoadDelayMs = LoadDelayMs ?? k.LoadDelayMs,
        ContextLength = ContextLength ?? k.ContextLength,
        MaxParallel = MaxParallel ?? k.MaxParallel,
        MaxQueue = MaxQueue ?? k.MaxQueue,
        Fault = Fault ?? k.Fault,
        FaultAfterTokens = FaultAfterTokens ?? k.FaultAfterTokens,
        FaultStatus = FaultStatus ?? k.FaultStatus,
        FaultMessage = FaultMessage ?? k.FaultMessage,
        FaultCount = FaultCount ?? k.FaultCount,
        TimestampTokens = TimestampTokens ?? k.TimestampTokens,
        ToolCalls = ToolCalls ?? k.ToolCalls,
        EmbeddingDims = EmbeddingDims ?? k.EmbeddingDims,
    };
}
