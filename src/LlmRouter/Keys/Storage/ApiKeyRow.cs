namespace LlmRouter.Keys.Storage;

/// <summary>A row of <c>api_keys</c> (migrations/0001_keys.sql). Mutable because EF Core tracks changes on it.</summary>
internal sealed class ApiKeyRow
{
    public Guid Id { get; set; }
    public string? Alias { get; set; }
    public string DisplayPrefix { get; set; } = "";
    /// <summary>A JSON object, as text.</summary>
    public string Metadata { get; set; } = "{}";
    public List<string> Models { get; set; } = [];
    public long? RpmLimit { get; set; }
    public long? TpmLimit { get; set; }
    public int? MaxParallelRequests { get; set; }
    public long? MaxTokens { get; set; }
    public TimeSpan? BudgetDuration { get; set; }
    public decimal? MaxBudget { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
    public bool Blocked { get; set; }
    public bool IsAdmin { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset UpdatedAt { get; set; }
    public DateTimeOffset? LastUsedAt { get; set; }
    public DateTimeOffset? RevokedAt { get; set; }

    public KeyRecord ToRecord() => new()
    {
        Id = Id,
        Alias = Alias,
        DisplayPrefix = DisplayPrefix,
        Models = Models.ToArray(),
        RpmLimit = RpmLimit,
        TpmLimit = TpmLimit,
        MaxParallelRequests = MaxParallelRequests,
        MaxTokens = MaxTokens,
        BudgetDuration = BudgetDuration,
        MaxBudget = MaxBudget,
        ExpiresAt = ExpiresAt,
        Blocked = Blocked,
        IsAdmin = IsAdmin,
        CreatedAt = CreatedAt,
    };

    /// <summary>What an admin sees: revoked beats blocked beats expired.</summary>
    public string StatusAt(DateTimeOffset now) =>
        RevokedAt is not null ? "revoked" : Blocked ? "blocked" : ExpiresAt <= now ? "expired" : "active";
}

/// <summary>A row of <c>api_key_secrets</c>: one SHA-256 hash that opens a key, until <see cref="ExpiresAt"/> if set.</summary>
internal sealed class ApiKeySecretRow
{
    public string Hash { get; set; } = "";
    public Guid KeyId { get; set; }
    public DateTimeOffset CreatedAt { get; set; }
    public DateTimeOffset? ExpiresAt { get; set; }
}
