using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>Fault modes understood by the simulator's <c>--fault</c> option and <c>fault</c> knob.</summary>
public static class SimFault
{
    public const string None = "none";
    public const string ErrorBefore = "error-before";
    public const string Busy = "busy";
    public const string ErrorMid = "error-mid";
    public const string Hang = "hang";
    public const string HangMid = "hang-mid";
    public const string Drop = "drop";
    public const string DropMid = "drop-mid";
}

/// <summary>
/// The simulator's run-time knobs. Null properties are left out of a POST, so a partial
/// object changes only what it sets.
/// </summary>
public sealed record SimConfig
{
    public int? FirstTokenDelayMs { get; init; }
    public int? TokenIntervalMs { get; init; }
    public int? Tokens { get; init; }
    public int? LoadDelayMs { get; init; }
    public int? ContextLength { get; init; }
    public int? MaxParallel { get; init; }
    public int? MaxQueue { get; init; }
    public string? Fault { get; init; }
    public int? FaultAfterTokens { get; init; }
    public int? FaultStatus { get; init; }
    public string? FaultMessage { get; init; }
    public int? FaultCount { get; init; }
    public bool? TimestampTokens { get; init; }

    /// <summary>"auto" (answer a request that offers tools with a tool call) or "never".</summary>
    public string? ToolCalls { get; init; }

    public int? EmbeddingDims { get; init; }
}

/// <summary>Counters over generation requests (chat, generate, embed) since start or the last reset.</summary>
public sealed record SimStats(
    long Received, long Active, long Completed, long Cancelled, long Rejected, long Faulted, int Held, int Queued = 0);

/// <summary>One request the simulator recorded. Headers and body are kept as raw JSON.</summary>
public sealed record SimRequest
{
    public JsonNode? Id { get; init; }
    public string Method { get; init; } = "";
    public string Path { get; init; } = "";
    public JsonNode? Headers { get; init; }
    public JsonNode? Body { get; init; }
    public JsonNode? ReceivedAt { get; init; }
    public string? Outcome { get; init; }
    public int? Status { get; init; }
    public int TokensSent { get; init; }

    /// <summary>True for the requests that generate (chat, generate, embed), as opposed to /api/tags, /api/ps and the like.</summary>
    [JsonIgnore]
    public bool IsGeneration => Method == "POST" && Path is "/api/chat" or "/api/generate" or "/api/embed" or "/api/embeddings";

    [JsonIgnore]
    public string? Model => Body?["model"]?.GetValue<string>();

    [JsonIgnore]
    public JsonArray Messages => Body?["messages"] as JsonArray ?? [];
}
