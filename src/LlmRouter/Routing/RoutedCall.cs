using LlmRouter.Configuration;
using LlmRouter.Keys;
using LlmRouter.LiveState;

namespace LlmRouter.Routing;

/// <summary>One client request as the router sees it: which group, which fallbacks, whose key, what to reserve.</summary>
internal sealed record RoutedCall
{
    public required string RequestId { get; init; }
    public required string Model { get; init; }
    public required bool Stream { get; init; }
    /// <summary>
    /// How long one attempt may wait: for a stream's first chunk (<c>stream_timeout</c>), for the whole reply
    /// (<c>first_token_timeout</c>: embeddings), or as the attempt itself decides (a non-streamed generation, read whole
    /// in its attempt: first token, then each line; <see cref="Streaming.WholeAnswer"/>).
    /// </summary>
    public required AttemptWait Wait { get; init; }
    /// <summary>Groups to try after <see cref="Model"/>, in order (config or the request's own <c>fallbacks</c>).</summary>
    public IReadOnlyList<string> Fallbacks { get; init; } = [];
    public int EstimatedPromptTokens { get; init; }
    /// <summary>The answer cap sent to the backend as num_predict (the client's, or the one a key's quota needs).</summary>
    public long? MaxTokens { get; init; }
    public KeyRecord? Key { get; init; }
    /// <summary>Reservation against the key's limits, or null when the key has none (or there is no key).</summary>
    public KeyAdmission? KeyAdmission { get; init; }
}

internal enum AttemptWait
{
    FirstChunk,
    Reply,
    SelfTimed,
}

/// <summary>The outcome of routing: the backend's answer (already started), the slot it holds, and how it got there.</summary>
internal sealed record Routed<T>(T Value, Lease Lease, KeyHold? KeyHold, string ServedModel, int Attempts, AdmissionResult Admission)
{
    public Deployment Deployment => Lease.Deployment;
}
