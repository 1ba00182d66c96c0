namespace LlmRouter.Keys;

/// <summary>A virtual key as the hot path sees it (from the in-process cache). The secret itself is never held.</summary>
public sealed record KeyRecord
{
    public required Guid Id { get; init; }
    public string? Alias { get; init; }
    /// <summary>Short, non-secret start of the key (e.g. <c>sk-AbCd…</c>) for display.</summary>
    public required string DisplayPrefix { get; init; }
    /// <summary>Logical model names the key may use; empty = all.</summary>
    public IReadOnlyList<string> Models { get; init; } = [];
    public long? RpmLimit { get; init; }
    public long? TpmLimit { get; init; }
    public int? MaxParallelRequests { get; init; }
    /// <summary>Token quota per <see cref="BudgetDuration"/> (null duration = lifetime).</summary>
    public long? MaxTokens { get; init; }
    public TimeSpan? BudgetDuration { get; init; }
    /// <summary>Money per <see cref="BudgetDuration"/>, charged at the configured per-token prices.</summary>
    public decimal? MaxBudget { get; init; }
    public DateTimeOffset? ExpiresAt { get; init; }
    public bool Blocked { get; init; }
    /// <summary>May call the admin API, like the master key.</summary>
    public bool IsAdmin { get; init; }
    public DateTimeOffset CreatedAt { get; init; }

    public bool MayUse(string model) => Models.Count == 0 || Models.Contains(model, StringComparer.Ordinal);
}
