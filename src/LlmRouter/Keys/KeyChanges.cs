using LlmRouter.Keys.Storage;

namespace LlmRouter.Keys;

/// <summary>A field that is either absent (leave it alone) or set, possibly to null (clear it): what PATCH needs.</summary>
internal readonly record struct Optional<T>(bool IsSet, T Value)
{
    public static implicit operator Optional<T>(T value) => new(true, value);
}

/// <summary>The key settings a request sets; validated already. Absent fields keep their stored value.</summary>
internal sealed class KeyChanges
{
    public Optional<string?> Alias { get; set; }
    /// <summary>A JSON object as text.</summary>
    public Optional<string> Metadata { get; set; }
    public Optional<IReadOnlyList<string>> Models { get; set; }
    public Optional<long?> RpmLimit { get; set; }
    public Optional<long?> TpmLimit { get; set; }
    public Optional<int?> MaxParallelRequests { get; set; }
    public Optional<long?> MaxTokens { get; set; }
    public Optional<TimeSpan?> BudgetDuration { get; set; }
    public Optional<decimal?> MaxBudget { get; set; }
    public Optional<DateTimeOffset?> ExpiresAt { get; set; }
    public Optional<bool> Blocked { get; set; }
    public Optional<bool> IsAdmin { get; set; }

    /// <summary>The request's name for the alias (<c>alias</c> or LiteLLM's <c>key_alias</c>), for a 409 that names it.</summary>
    public string AliasField { get; init; } = "alias";

    public void ApplyTo(ApiKeyRow row)
    {
        if (Alias.IsSet) row.Alias = Alias.Value;
        if (Metadata.IsSet) row.Metadata = Metadata.Value;
        if (Models.IsSet) row.Models = [.. Models.Value];
        if (RpmLimit.IsSet) row.RpmLimit = RpmLimit.Value;
        if (TpmLimit.IsSet) row.TpmLimit = TpmLimit.Value;
        if (MaxParallelRequests.IsSet) row.MaxParallelRequests = MaxParallelRequests.Value;
        if (MaxTokens.IsSet) row.MaxTokens = MaxTokens.Value;
        if (BudgetDuration.IsSet) row.BudgetDuration = BudgetDuration.Value;
        if (MaxBudget.IsSet) row.MaxBudget = MaxBudget.Value;
        if (ExpiresAt.IsSet) row.ExpiresAt = ExpiresAt.Value;
        if (Blocked.IsSet) row.Blocked = Blocked.Value;
        if (IsAdmin.IsSet) row.IsAdmin = IsAdmin.Value;
    }
}
