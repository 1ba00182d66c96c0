using LlmRouter.Keys;
using LlmRouter.LiveState;

namespace LlmRouter.Completions;

/// <summary>A key's limits as one admission's reservation; null when the key has no limits to enforce.</summary>
internal static class KeyLimits
{
    /// <summary>Money is counted in micro-units so the scripts can use integer counters.</summary>
    public const decimal MicrosPerUnit = 1_000_000m;

    public static KeyAdmission? Admission(KeyRecord key, long reserveTokens, DateTimeOffset now, long reserveMicros = 0)
    {
        if (key is { RpmLimit: null, TpmLimit: null, MaxParallelRequests: null, MaxTokens: null, MaxBudget: null }) return null;
        var (bucket, starts, resets) = TimeBuckets.Period(key.CreatedAt, key.BudgetDuration, now);
        return new KeyAdmission
        {
            KeyId = key.Id,
            RpmLimit = key.RpmLimit,
            TpmLimit = key.TpmLimit,
            MaxParallel = key.MaxParallelRequests,
            QuotaLimit = key.MaxTokens,
            QuotaBucket = bucket,
            PeriodStart = starts,
            QuotaResets = resets == DateTimeOffset.MaxValue ? null : resets,
            // A budget set before the API bounded it (Keys.JsonFields.MaxBudget) counts as that bound.
            BudgetLimitMicros = key.MaxBudget is { } budget ? (long)(Math.Min(budget, Keys.JsonFields.MaxBudget) * MicrosPerUnit) : null,
            ReserveTokens = reserveTokens,
            ReserveMicros = reserveMicros,
        };
    }
}
