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
            // Limits set before the API bounded them (Keys.JsonFields.MaxCount, MaxBudget) count as those bounds: a
            // larger one is exact in neither Redis's doubles nor a replica's share of it.
            RpmLimit = Bounded(key.RpmLimit),
            TpmLimit = Bounded(key.TpmLimit),
            MaxParallel = key.MaxParallelRequests,
            QuotaLimit = Bounded(key.MaxTokens),
            QuotaBucket = bucket,
            PeriodStart = starts,
            QuotaResets = resets == DateTimeOffset.MaxValue ? null : resets,
            BudgetLimitMicros = key.MaxBudget is { } budget ? (long)(Math.Min(budget, Keys.JsonFields.MaxBudget) * MicrosPerUnit) : null,
            ReserveTokens = reserveTokens,
            ReserveMicros = reserveMicros,
        };
    }

    private static long? Bounded(long? limit) => limit is { } value ? Math.Min(value, Keys.JsonFields.MaxCount) : null;
}
