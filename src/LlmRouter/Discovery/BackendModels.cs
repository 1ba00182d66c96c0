using System.Collections.Frozen;

namespace LlmRouter.Discovery;

/// <summary>
/// What one backend's last polls said about its models, replaced whole after every poll so readers on the hot path see
/// a consistent value without locks.
/// </summary>
internal sealed record BackendModels
{
    public static readonly BackendModels Unpolled = new();

    /// <summary>Held models by <see cref="OllamaModelName.Normalize"/> key; null until <c>/api/tags</c> first answers, meaning "trust the config".</summary>
    public FrozenDictionary<string, HeldModel>? Held { get; init; }
    /// <summary>Loaded models by normalised key, from the last <c>/api/ps</c> that answered; empty until one has.</summary>
    public FrozenSet<string> Loaded { get; init; } = FrozenSet<string>.Empty;
    /// <summary>The names as the backend reported them, for readiness.</summary>
    public IReadOnlyList<string> HeldNames { get; init; } = [];
    public IReadOnlyList<string> LoadedNames { get; init; } = [];
    /// <summary>From <c>/api/show</c>, by model key; each remembers the model version it was read for.</summary>
    public FrozenDictionary<string, ContextLengthEntry> ContextLengths { get; init; } = FrozenDictionary<string, ContextLengthEntry>.Empty;

    public DateTimeOffset? LastPollAt { get; init; }
    /// <summary>Last poll in which both <c>/api/tags</c> and <c>/api/ps</c> answered.</summary>
    public DateTimeOffset? LastSuccessAt { get; init; }
    /// <summary>Why the last poll failed (either call); null when it succeeded.</summary>
    public string? LastError { get; init; }
    public int ConsecutiveFailures { get; init; }
}

/// <summary>Length null: the model does not say, and is not asked again until its version changes.</summary>
internal sealed record ContextLengthEntry(int? Length, string ModelVersion);
