using LlmRouter.Configuration;

namespace LlmRouter.LiveState;

/// <summary>What a key may still do; checked and reserved atomically with the deployment slot.</summary>
internal sealed record KeyAdmission
{
    public required Guid KeyId { get; init; }
    public long? RpmLimit { get; init; }
    public long? TpmLimit { get; init; }
    public int? MaxParallel { get; init; }
    /// <summary>Token quota for the current period, and the period's bucket name (e.g. its start).</summary>
    public long? QuotaLimit { get; init; }
    public string QuotaBucket { get; init; } = "lifetime";
    /// <summary>When the quota period began: usage since then is what a rebuilt counter starts from.</summary>
    public DateTimeOffset PeriodStart { get; init; } = DateTimeOffset.UnixEpoch;
    /// <summary>When the quota period ends (its counters may then be dropped); null for a lifetime quota.</summary>
    public DateTimeOffset? QuotaResets { get; init; }
    /// <summary>Money quota in micro-units for the same period.</summary>
    public long? BudgetLimitMicros { get; init; }
    /// <summary>Prompt estimate plus the most the answer may use.</summary>
    public long ReserveTokens { get; init; }
    public long ReserveMicros { get; init; }
}

/// <summary>One admission: take a slot on the first admissible candidate (or the least busy one), and the key's share.</summary>
internal sealed record AdmissionRequest
{
    /// <summary>This attempt's deployment slot.</summary>
    public required string LeaseId { get; init; }
    /// <summary>The whole request's key hold (kept across retries and fallbacks).</summary>
    public required string RequestId { get; init; }
    /// <summary>In preference order (strategy, warm model first, shuffled ties).</summary>
    public required IReadOnlyList<Deployment> Candidates { get; init; }
    /// <summary>True: fewest in flight wins (ties by order). False: first admissible in order.</summary>
    public bool LeastBusy { get; init; }
    public int? BackendLimit { get; init; }
    public KeyAdmission? Key { get; init; }
    public required DateTimeOffset Now { get; init; }
    public required TimeSpan LeaseTtl { get; init; }
    /// <summary>A request's first admission, over every routable deployment of its group: it may take a spare.</summary>
    public bool MayUseSpare { get; init; }
    /// <summary>
    /// The routing strategy orders these candidates by <see cref="AdmissionResult.Stats"/>; otherwise the result leaves
    /// them out. It also keeps spares away (<see cref="SpareAdmissions.Applies"/>): a deployment chosen ahead by these
    /// numbers would be chosen on stale ones.
    /// </summary>
    public bool WantsStats { get; init; }
    /// <summary>
    /// Spares taken together: the first of them, which this request is like in everything but its ids (and its
    /// <see cref="SameAs"/>). Redis is then sent that admission once, with each one's ids after it.
    /// </summary>
    public AdmissionRequest? SameAs { get; init; }

    /// <summary>A table for the candidates' stats when they are wanted, else null.</summary>
    public Dictionary<string, DeploymentStats>? NewStats() => WantsStats ? new(Candidates.Count, StringComparer.Ordinal) : null;
}

internal enum AdmissionStatus
{
    Admitted,
    /// <summary>Every candidate is at a parallel limit (or over its rpm/tpm): queue or 503.</summary>
    Busy,
    /// <summary>Every candidate is cooling down until <see cref="AdmissionResult.RetryAt"/>.</summary>
    CoolingDown,
    KeyRateLimited,
    KeyParallelLimited,
    KeyQuotaExceeded,
    /// <summary>
    /// The key's counters for this period are not in the live state yet (first use, or Redis lost its state):
    /// seed them from recorded usage with <see cref="ILiveState.SeedAsync"/>, then admit again.
    /// </summary>
    KeyNeedsSeed,
}

/// <summary>A key's recorded usage in its current windows, to seed counters from.</summary>
internal readonly record struct KeyUsageSnapshot(long PeriodTokens, long PeriodMicros, long MinuteRequests, long MinuteTokens);

/// <summary>Live numbers returned with every admission, so strategies order candidates without another round trip.</summary>
internal readonly record struct DeploymentStats(int InFlight, double TtftMs, long TokensThisMinute, long RequestsThisMinute);

internal sealed record AdmissionResult
{
    public required AdmissionStatus Status { get; init; }
    public Deployment? Deployment { get; init; }
    public DateTimeOffset? RetryAt { get; init; }
    /// <summary>After admission: what the key has left this minute (for x-ratelimit-* headers).</summary>
    public long? RemainingRequests { get; init; }
    public long? RemainingTokens { get; init; }
    public IReadOnlyDictionary<string, DeploymentStats> Stats { get; init; } = NoStats;
    /// <summary>The deployment slot to settle; null unless admitted.</summary>
    public Lease? Lease { get; init; }
    /// <summary>The key's reservation, when this admission took one; settled once, at the end of the request.</summary>
    public KeyHold? KeyHold { get; init; }
    /// <summary>The key (if any) has no parallel limit and room under its other limits for many more requests like this one.</summary>
    public bool PlentyLeft { get; init; }

    public static readonly IReadOnlyDictionary<string, DeploymentStats> NoStats = System.Collections.ObjectModel.ReadOnlyDictionary<string, DeploymentStats>.Empty;
}

/// <summary>A held deployment slot. Settled exactly once; until then the heartbeat keeps it alive.</summary>
/// <param name="onBackend">Also counted in its backend's set, for <c>max_parallel_requests_per_backend</c>.</param>
internal sealed class Lease(string id, Deployment deployment, bool shared, bool onBackend = false, bool quiet = false)
{
    private int _settled;

    public string Id { get; } = id;
    public Deployment Deployment { get; } = deployment;
    /// <summary>Held in Redis (true) or in this process (false).</summary>
    public bool Shared { get; } = shared;
    public bool OnBackend { get; } = onBackend;
    /// <summary>
    /// No admission reads what this lease counts while it is held (<see cref="SpareAdmissions.Quiet"/>): its settle may
    /// wait a moment to share a Redis call.
    /// </summary>
    public bool Quiet { get; } = quiet;

    public bool TrySettle() => Interlocked.Exchange(ref _settled, 1) == 0;
    public bool IsSettled => Volatile.Read(ref _settled) == 1;
}

/// <summary>A request's reservation against its key: a parallel slot plus reserved tokens, corrected at settle.</summary>
/// <param name="nearLimit">
/// What the key had left after this reservation would not hold another request like it. Its settle is then awaited
/// before the answer ends, so a client's next request finds the real count (other settles are not waited for).
/// </param>
internal sealed class KeyHold(string requestId, KeyAdmission key, string minuteBucket, bool shared, bool nearLimit = false)
{
    private int _settled;

    public string RequestId { get; } = requestId;
    public KeyAdmission Key { get; } = key;
    /// <summary>The tpm window the reservation went into; the settle corrects that same window.</summary>
    public string MinuteBucket { get; } = minuteBucket;
    public bool Shared { get; } = shared;
    public bool NearLimit { get; } = nearLimit;

    public bool TrySettle() => Interlocked.Exchange(ref _settled, 1) == 0;
    public bool IsSettled => Volatile.Read(ref _settled) == 1;

    private int _reservationLost;

    /// <summary>
    /// Redis lost its state while this request was in flight, and its reservation with it: the settle then counts what
    /// the request used, not the difference from a reservation the rebuilt counters never held.
    /// </summary>
    public bool ReservationLost
    {
        get => Volatile.Read(ref _reservationLost) == 1;
        set => Volatile.Write(ref _reservationLost, value ? 1 : 0);
    }
}

/// <summary>How an attempt or a request ended, to release its slot and account for it.</summary>
internal sealed record SettleRequest
{
    /// <summary>The attempt's slot; null when only the key hold is released (every attempt failed).</summary>
    public Lease? Lease { get; init; }
    /// <summary>Given only at the end of the request.</summary>
    public KeyHold? KeyHold { get; init; }
    public required DateTimeOffset Now { get; init; }
    /// <summary>The deployment failed in a way that counts toward its cooldown.</summary>
    public bool Failed { get; init; }
    public long ActualTokens { get; init; }
    public long ActualMicros { get; init; }
    public double? TtftMs { get; init; }
    public required int AllowedFails { get; init; }
    public required TimeSpan FailureWindow { get; init; }
    public required TimeSpan CooldownTime { get; init; }
    /// <summary>
    /// An unused spare given back: its request counts are taken back too (in the minute of <see cref="Now"/>, which is
    /// then the time it was admitted), as if it had never been admitted.
    /// </summary>
    public bool Released { get; init; }
}

/// <summary>
/// The router's live state shared by replicas: in-flight leases, cooldowns and key limits, each admission and
/// each settle one atomic step (in a Redis script when Redis is there; process-local otherwise).
/// </summary>
internal interface ILiveState
{
    ValueTask<AdmissionResult> AdmitAsync(AdmissionRequest request);

    /// <summary>Seeds a key's counters once per period (idempotent across replicas: the first seed wins).</summary>
    /// <param name="markerTtl">Set when the usage is a guess (the usage store was unreachable): seeding is redone after it.</param>
    Task SeedAsync(KeyAdmission key, KeyUsageSnapshot usage, DateTimeOffset now, TimeSpan? markerTtl = null);

    /// <summary>Releases the slot; may complete after the client has its answer (no one waits for it).</summary>
    Task SettleAsync(SettleRequest request);

    /// <summary>
    /// Called once a request's answer has gone out (after its settle): work that may wait for it, such as taking
    /// admissions ahead for the key's next requests, is done now rather than on the request's way.
    /// </summary>
    /// <param name="took">How long the request took, from its arrival to its answer.</param>
    void Finished(Lease? lease, KeyHold? hold, TimeSpan took)
    {
    }

    /// <summary>True while counts are shared through Redis; false when process-local.</summary>
    bool IsShared { get; }

    /// <summary>Raised when a slot held by this process is released, so local waiters re-check at once.</summary>
    event Action<string>? SlotReleased;
}
