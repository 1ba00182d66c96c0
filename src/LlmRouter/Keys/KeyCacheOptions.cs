namespace LlmRouter.Keys;

/// <summary>Tuning of <see cref="KeyCache"/>; the defaults suit production, tests shorten the intervals.</summary>
internal sealed record KeyCacheOptions
{
    /// <summary>
    /// How often every cached key is re-read from Postgres in one query: the backstop for change messages lost while
    /// Redis was away (a reconnect re-checks at once as well). Default 30 s.
    /// </summary>
    public TimeSpan RecheckInterval { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long an unknown secret is remembered as unknown, so retries with a bad key do not each hit Postgres. Default 5 s.</summary>
    public TimeSpan NegativeTtl { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Cap on remembered unknown secrets, so random keys cannot grow memory without bound. Default 10,000.</summary>
    public int MaxNegativeEntries { get; init; } = 10_000;

    /// <summary>
    /// Cache-miss lookups in flight at once. A flood of new or bogus keys then queues here instead of taking every
    /// pooled connection (the usage writer needs some). Default 4.
    /// </summary>
    public int MaxConcurrentLookups { get; init; } = 4;

    /// <summary>
    /// After a lookup failed because Postgres is unreachable, misses answer 503 at once for this long instead of each
    /// waiting for a connection timeout. Default 1 s.
    /// </summary>
    public TimeSpan FailFastAfterError { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a miss may wait for a lookup slot before the key counts as unverifiable (503). Default 5 s.</summary>
    public TimeSpan LookupWait { get; init; } = TimeSpan.FromSeconds(5);
}
