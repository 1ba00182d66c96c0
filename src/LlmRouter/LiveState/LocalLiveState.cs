using System.Globalization;
using LlmRouter.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmRouter.LiveState;

/// <summary>
/// Process-local live state: the same rules as the Redis scripts, for a single replica or while Redis is away.
/// One lock keeps each admission and settle atomic; the work inside is a few dictionary operations.
/// <para>
/// Standing in for a Redis that several replicas share, it holds each key to this replica's share
/// (<see cref="Replicas"/>) of what the key had left when its counters were seeded: the replicas then let through no
/// more than the key's limits together, give or take a request or a token each, however the key's requests are spread.
/// </para>
/// </summary>
internal sealed class LocalLiveState(ILogger<LocalLiveState>? logger = null) : ILiveState
{
    private readonly ILogger _logger = logger ?? NullLogger<LocalLiveState>.Instance;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Dictionary<string, DateTimeOffset>> _leases = new(StringComparer.Ordinal);
    private readonly Dictionary<string, DateTimeOffset> _cooldownUntil = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<DateTimeOffset>> _failures = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _counters = new(StringComparer.Ordinal);
    private readonly Dictionary<string, double> _ttft = new(StringComparer.Ordinal);
    /// <summary>Seeded key periods; a guessed seed (usage store unreachable) holds only until its time.</summary>
    private readonly Dictionary<string, DateTimeOffset> _seededUntil = new(StringComparer.Ordinal);
    /// <summary>What a key counter was seeded with (every replica's recorded usage): the part no share is taken from.</summary>
    private readonly Dictionary<string, long> _seeded = new(StringComparer.Ordinal);
    private int _replicas = 1;
    /// <summary>The minute whose start last pruned the per-minute counters (<see cref="Prune"/>).</summary>
    private string? _prunedIn;
    /// <summary>When each key's quota period counted here ends (periods that end), so its counters can go once it has.</summary>
    private readonly Dictionary<(Guid KeyId, string Bucket), DateTimeOffset> _periodEnds = [];

    public bool IsShared => false;

    /// <summary>
    /// Replicas whose limits this state shares: 1 alone; while it stands in for Redis, how many replicas Redis last
    /// said were beating (<see cref="RedisLiveState.CountReplicasAsync"/>).
    /// </summary>
    public int Replicas
    {
        get => Volatile.Read(ref _replicas);
        set => Volatile.Write(ref _replicas, Math.Max(1, value));
    }
    public event Action<string>? SlotReleased;

    public ValueTask<AdmissionResult> AdmitAsync(AdmissionRequest request)
    {
        lock (_lock)
        {
            return ValueTask.FromResult(Admit(request));
        }
    }

    private AdmissionResult Admit(AdmissionRequest request)
    {
        var now = request.Now;
        var minute = TimeBuckets.Minute(now);
        Prune(minute, now);
        var stats = request.NewStats();
        if (request.Key is { } key && CheckKey(key, now, minute) is { } refused) return refused;

        Deployment? chosen = null;
        var chosenCount = int.MaxValue;
        var anyBusy = false;
        DateTimeOffset? earliestCooldownEnd = null;
        foreach (var candidate in request.Candidates)
        {
            var count = Count(LiveKeys.DeploymentLeases(candidate.Id), now);
            if (stats is not null)
                stats[candidate.Id] = new DeploymentStats(count, _ttft.GetValueOrDefault(candidate.Id),
                    Counter(LiveKeys.DeploymentTokens(candidate.Id, minute)), Counter(LiveKeys.DeploymentRequests(candidate.Id, minute)));
            if (_cooldownUntil.TryGetValue(candidate.Id, out var until) && until > now)
            {
                if (earliestCooldownEnd is null || until < earliestCooldownEnd) earliestCooldownEnd = until;
                continue;
            }
            if (IsFull(candidate, count, request.BackendLimit, now, minute))
            {
                anyBusy = true;
                continue;
            }
            if (request.LeastBusy ? count < chosenCount : chosen is null)
            {
                chosen = candidate;
                chosenCount = count;
            }
        }
        var live = stats ?? AdmissionResult.NoStats;
        if (chosen is null)
        {
            return anyBusy || earliestCooldownEnd is null
                ? new AdmissionResult { Status = AdmissionStatus.Busy, Stats = live }
                : new AdmissionResult { Status = AdmissionStatus.CoolingDown, RetryAt = earliestCooldownEnd, Stats = live };
        }

        var expiry = now + request.LeaseTtl;
        Leases(LiveKeys.DeploymentLeases(chosen.Id))[request.LeaseId] = expiry;
        Leases(LiveKeys.BackendLeases(chosen.BackendId))[request.LeaseId] = expiry;
        Add(LiveKeys.DeploymentRequests(chosen.Id, minute), 1);
        long? remainingRequests = null, remainingTokens = null;
        KeyHold? hold = null;
        if (request.Key is { } k)
        {
            Leases(LiveKeys.KeyLeases(k.KeyId))[request.RequestId] = expiry;
            var requestsKey = LiveKeys.KeyRequests(k.KeyId, minute);
            var tokensKey = LiveKeys.KeyTokens(k.KeyId, minute);
            var requests = Add(requestsKey, 1);
            var tokens = Add(tokensKey, k.ReserveTokens);
            Add(LiveKeys.KeyQuota(k.KeyId, k.QuotaBucket), k.ReserveTokens);
            Add(LiveKeys.KeyBudget(k.KeyId, k.QuotaBucket), k.ReserveMicros);
            if (k.RpmLimit is { } rpm) remainingRequests = Math.Max(0, Share(requestsKey, rpm) - requests);
            if (k.TpmLimit is { } tpm) remainingTokens = Math.Max(0, Share(tokensKey, tpm) - tokens);
            hold = new KeyHold(request.RequestId, k, minute, shared: false);
        }
        return new AdmissionResult
        {
            Status = AdmissionStatus.Admitted, Deployment = chosen, Lease = new Lease(request.LeaseId, chosen, shared: false), KeyHold = hold,
            Stats = live, RemainingRequests = remainingRequests, RemainingTokens = remainingTokens,
        };
    }

    private AdmissionResult? CheckKey(KeyAdmission key, DateTimeOffset now, string minute)
    {
        // A process that just started knows nothing of the key's usage: seed from recorded usage first.
        if (!(_seededUntil.TryGetValue(LiveKeys.KeySeeded(key.KeyId, key.QuotaBucket), out var until) && until > now))
            return new AdmissionResult { Status = AdmissionStatus.KeyNeedsSeed };
        // Refused by one limit, the result tells what is left of the other (for the x-ratelimit-remaining-* headers).
        var requestsKey = LiveKeys.KeyRequests(key.KeyId, minute);
        var tokensKey = LiveKeys.KeyTokens(key.KeyId, minute);
        var requests = Counter(requestsKey);
        var tokens = Counter(tokensKey);
        long? rpm = key.RpmLimit is { } r ? Share(requestsKey, r) : null;
        long? tpm = key.TpmLimit is { } t ? Share(tokensKey, t) : null;
        if (requests >= rpm)
            return new AdmissionResult
            {
                Status = AdmissionStatus.KeyRateLimited, RetryAt = TimeBuckets.NextMinute(now), RemainingRequests = 0,
                RemainingTokens = tpm is { } limit ? Math.Max(0, limit - tokens) : null,
            };
        if (tokens + key.ReserveTokens > tpm)
            return new AdmissionResult
            {
                Status = AdmissionStatus.KeyRateLimited, RetryAt = TimeBuckets.NextMinute(now), RemainingTokens = 0,
                RemainingRequests = rpm is { } limit ? Math.Max(0, limit - requests) : null,
            };
        if (key.MaxParallel is { } parallel && Count(LiveKeys.KeyLeases(key.KeyId), now) >= Share(null, parallel))
            return new AdmissionResult { Status = AdmissionStatus.KeyParallelLimited, RetryAt = now.AddSeconds(1) };
        var quotaKey = LiveKeys.KeyQuota(key.KeyId, key.QuotaBucket);
        if (key.QuotaLimit is { } quota && Counter(quotaKey) + key.ReserveTokens > Share(quotaKey, quota))
            return new AdmissionResult { Status = AdmissionStatus.KeyQuotaExceeded };
        var budgetKey = LiveKeys.KeyBudget(key.KeyId, key.QuotaBucket);
        if (key.BudgetLimitMicros is { } budget && Counter(budgetKey) + key.ReserveMicros > Share(budgetKey, budget))
            return new AdmissionResult { Status = AdmissionStatus.KeyQuotaExceeded };
        return null;
    }

    /// <summary>
    /// What this replica may count up to under <paramref name="limit"/>: all of it alone; else what every replica had
    /// used when <paramref name="counter"/> was seeded, plus this replica's share of the rest, rounded up (so a limit
    /// smaller than the number of replicas still lets each through one).
    /// </summary>
    private long Share(string? counter, long limit)
    {
        var replicas = Replicas;
        if (replicas == 1) return limit;
        var used = counter is not null && _seeded.TryGetValue(counter, out var seeded) ? Math.Min(seeded, limit) : 0;
        return used + (limit - used + replicas - 1) / replicas;
    }

    private bool IsFull(Deployment candidate, int count, int? backendLimit, DateTimeOffset now, string minute)
    {
        if (candidate.MaxParallelRequests is { } max && count >= max) return true;
        if (backendLimit is { } limit && Count(LiveKeys.BackendLeases(candidate.BackendId), now) >= limit) return true;
        if (candidate.Rpm is { } rpm && Counter(LiveKeys.DeploymentRequests(candidate.Id, minute)) >= rpm) return true;
        return candidate.Tpm is { } tpm && Counter(LiveKeys.DeploymentTokens(candidate.Id, minute)) >= tpm;
    }

    public Task SeedAsync(KeyAdmission key, KeyUsageSnapshot usage, DateTimeOffset now, TimeSpan? markerTtl = null)
    {
        lock (_lock)
        {
            var marker = LiveKeys.KeySeeded(key.KeyId, key.QuotaBucket);
            if (_seededUntil.TryGetValue(marker, out var until) && until > now) return Task.CompletedTask;
            _seededUntil[marker] = markerTtl is { } ttl ? now + ttl : DateTimeOffset.MaxValue;
            InPeriod(key);
            var minute = TimeBuckets.Minute(now);
            // The larger of what is counted and what was recorded, never the sum (see LiveScripts.Seed).
            Seed(LiveKeys.KeyQuota(key.KeyId, key.QuotaBucket), usage.PeriodTokens);
            Seed(LiveKeys.KeyBudget(key.KeyId, key.QuotaBucket), usage.PeriodMicros);
            Seed(LiveKeys.KeyRequests(key.KeyId, minute), usage.MinuteRequests);
            Seed(LiveKeys.KeyTokens(key.KeyId, minute), usage.MinuteTokens);
        }
        return Task.CompletedTask;
    }

    /// <summary>Drops the key's seeded marker: its next admission here asks for recorded usage again (after Redis came back).</summary>
    public void ForgetSeed(Guid keyId, string bucket)
    {
        lock (_lock) _seededUntil.Remove(LiveKeys.KeySeeded(keyId, bucket));
    }

    public Task SettleAsync(SettleRequest request)
    {
        var cooling = false;
        lock (_lock)
        {
            if (request.Lease is { } lease)
            {
                var deployment = lease.Deployment;
                Leases(LiveKeys.DeploymentLeases(deployment.Id)).Remove(lease.Id);
                Leases(LiveKeys.BackendLeases(deployment.BackendId)).Remove(lease.Id);
                Add(LiveKeys.DeploymentTokens(deployment.Id, TimeBuckets.Minute(request.Now)), request.ActualTokens);
                if (request.Failed) cooling = RecordFailure(deployment.Id, request);
                else if (request.TtftMs is { } ttft) _ttft[deployment.Id] = _ttft.TryGetValue(deployment.Id, out var old) ? old * 0.8 + ttft * 0.2 : ttft;
            }
            if (request.KeyHold is { } hold)
            {
                var key = hold.Key;
                Leases(LiveKeys.KeyLeases(key.KeyId)).Remove(hold.RequestId);
                InPeriod(key);
                Add(LiveKeys.KeyTokens(key.KeyId, hold.MinuteBucket), request.ActualTokens - key.ReserveTokens);
                Add(LiveKeys.KeyQuota(key.KeyId, key.QuotaBucket), request.ActualTokens - key.ReserveTokens);
                Add(LiveKeys.KeyBudget(key.KeyId, key.QuotaBucket), request.ActualMicros - key.ReserveMicros);
            }
        }
        if (cooling) CooldownLog.Started(_logger, request.Lease!.Deployment, request);
        if (request.Lease is { } released) SlotReleased?.Invoke(released.Deployment.ModelName);
        return Task.CompletedTask;
    }

    /// <returns>Whether this failure started a cooldown.</returns>
    private bool RecordFailure(string deploymentId, SettleRequest request)
    {
        var failures = _failures.TryGetValue(deploymentId, out var list) ? list : _failures[deploymentId] = [];
        failures.RemoveAll(t => t <= request.Now - request.FailureWindow);
        failures.Add(request.Now);
        if (failures.Count < request.AllowedFails) return false;
        _cooldownUntil[deploymentId] = request.Now + request.CooldownTime;
        failures.Clear();
        return true;
    }

    /// <summary>Local leases that expire are those of requests that never settled (a bug); counted out, and dropped.</summary>
    private int Count(string key, DateTimeOffset now)
    {
        if (!_leases.TryGetValue(key, out var leases)) return 0;
        var live = 0;
        List<string>? expired = null;
        foreach (var (id, expiry) in leases)
        {
            if (expiry > now) live++;
            else (expired ??= []).Add(id);
        }
        foreach (var id in expired ?? []) leases.Remove(id);
        return live;
    }

    /// <summary>Renews every held lease and key hold; the heartbeat's local half.</summary>
    public void Renew(IEnumerable<Lease> leases, IEnumerable<KeyHold> holds, DateTimeOffset expiry)
    {
        lock (_lock)
        {
            foreach (var lease in leases)
            {
                Touch(LiveKeys.DeploymentLeases(lease.Deployment.Id), lease.Id, expiry);
                Touch(LiveKeys.BackendLeases(lease.Deployment.BackendId), lease.Id, expiry);
            }
            foreach (var hold in holds) Touch(LiveKeys.KeyLeases(hold.Key.KeyId), hold.RequestId, expiry);
        }
    }

    private void Touch(string key, string leaseId, DateTimeOffset expiry)
    {
        if (_leases.TryGetValue(key, out var leases) && leases.ContainsKey(leaseId)) leases[leaseId] = expiry;
    }

    private Dictionary<string, DateTimeOffset> Leases(string key) =>
        _leases.TryGetValue(key, out var leases) ? leases : _leases[key] = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);

    private long Counter(string key) => _counters.GetValueOrDefault(key);

    private long Add(string key, long delta) => _counters[key] = Math.Max(0, _counters.GetValueOrDefault(key) + delta);

    /// <summary>The larger of what is counted and what was recorded, never the sum (see LiveScripts.Seed).</summary>
    private void Seed(string counter, long recorded)
    {
        _counters[counter] = Math.Max(recorded, _counters.GetValueOrDefault(counter));
        _seeded[counter] = recorded;
    }

    /// <summary>Counters, seeds and periods kept now (for tests: none must pile up).</summary>
    internal int CounterCount
    {
        get
        {
            lock (_lock) return _counters.Count + _seeded.Count + _seededUntil.Count + _periodEnds.Count;
        }
    }

    /// <summary>
    /// Notes when <paramref name="key"/>'s quota period ends, if it does (<see cref="Prune"/>): at its seed, which every
    /// admission in the period needs first (a pruned period's seeded mark goes with it), and at a settle, which may
    /// count into a period already pruned.
    /// </summary>
    private void InPeriod(KeyAdmission key)
    {
        if (key.QuotaResets is { } ends) _periodEnds[(key.KeyId, key.QuotaBucket)] = ends;
    }

    /// <summary>
    /// Once a minute, drops the per-minute counters of minutes before the last one (only the current minute is read, and
    /// the last one may still be settled into), and the counters of quota periods that have ended. Without this a
    /// replica without Redis kept two counters per deployment and per key for every minute it ever served, and three per
    /// key for every budget period. (Redis lets them expire.)
    /// </summary>
    private void Prune(string minute, DateTimeOffset now)
    {
        if (minute == _prunedIn) return;
        _prunedIn = minute;
        List<(Guid KeyId, string Bucket)>? ended = null;
        foreach (var (period, ends) in _periodEnds)
            if (ends < now - TimeSpan.FromMinutes(1)) (ended ??= []).Add(period);
        foreach (var (keyId, bucket) in ended ?? [])
        {
            _periodEnds.Remove((keyId, bucket));
            _seededUntil.Remove(LiveKeys.KeySeeded(keyId, bucket));
            foreach (var counter in (string[])[LiveKeys.KeyQuota(keyId, bucket), LiveKeys.KeyBudget(keyId, bucket)])
            {
                _counters.Remove(counter);
                _seeded.Remove(counter);
            }
        }
        var previous = (long.Parse(minute, CultureInfo.InvariantCulture) - 1).ToString(CultureInfo.InvariantCulture);
        List<string>? stale = null;
        foreach (var counter in _counters.Keys)
        {
            if (IsPerMinute(counter) && !counter.EndsWith(minute, StringComparison.Ordinal) && !counter.EndsWith(previous, StringComparison.Ordinal))
                (stale ??= []).Add(counter);
        }
        if (stale is null) return;
        foreach (var counter in stale)
        {
            _counters.Remove(counter);
            _seeded.Remove(counter);
        }
    }

    private static bool IsPerMinute(string counter) =>
        counter.StartsWith(RedisConnection.Prefix + "rpm:", StringComparison.Ordinal) || counter.StartsWith(RedisConnection.Prefix + "tpm:", StringComparison.Ordinal);

    public DateTimeOffset? CooldownUntil(string deploymentId)
    {
        lock (_lock) return _cooldownUntil.TryGetValue(deploymentId, out var until) ? until : null;
    }
}
