using LlmRouter.Configuration;
using Microsoft.Extensions.Logging.Abstractions;

namespace LlmRouter.LiveState;

/// <summary>
/// Process-local live state: the same rules as the Redis scripts, for a single replica or while Redis is away.
/// One lock keeps each admission and settle atomic; the work inside is a few dictionary operations.
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

    public bool IsShared => false;
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
            var requests = Add(LiveKeys.KeyRequests(k.KeyId, minute), 1);
            var tokens = Add(LiveKeys.KeyTokens(k.KeyId, minute), k.ReserveTokens);
            Add(LiveKeys.KeyQuota(k.KeyId, k.QuotaBucket), k.ReserveTokens);
            Add(LiveKeys.KeyBudget(k.KeyId, k.QuotaBucket), k.ReserveMicros);
            if (k.RpmLimit is { } rpm) remainingRequests = Math.Max(0, rpm - requests);
            if (k.TpmLimit is { } tpm) remainingTokens = Math.Max(0, tpm - tokens);
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
        var requests = Counter(LiveKeys.KeyRequests(key.KeyId, minute));
        var tokens = Counter(LiveKeys.KeyTokens(key.KeyId, minute));
        if (key.RpmLimit is { } rpm && requests >= rpm)
            return new AdmissionResult
            {
                Status = AdmissionStatus.KeyRateLimited, RetryAt = TimeBuckets.NextMinute(now), RemainingRequests = 0,
                RemainingTokens = key.TpmLimit is { } limit ? Math.Max(0, limit - tokens) : null,
            };
        if (key.TpmLimit is { } tpm && tokens + key.ReserveTokens > tpm)
            return new AdmissionResult
            {
                Status = AdmissionStatus.KeyRateLimited, RetryAt = TimeBuckets.NextMinute(now), RemainingTokens = 0,
                RemainingRequests = key.RpmLimit is { } limit ? Math.Max(0, limit - requests) : null,
            };
        if (key.MaxParallel is { } parallel && Count(LiveKeys.KeyLeases(key.KeyId), now) >= parallel)
            return new AdmissionResult { Status = AdmissionStatus.KeyParallelLimited, RetryAt = now.AddSeconds(1) };
        if (key.QuotaLimit is { } quota && Counter(LiveKeys.KeyQuota(key.KeyId, key.QuotaBucket)) + key.ReserveTokens > quota)
            return new AdmissionResult { Status = AdmissionStatus.KeyQuotaExceeded };
        if (key.BudgetLimitMicros is { } budget && Counter(LiveKeys.KeyBudget(key.KeyId, key.QuotaBucket)) + key.ReserveMicros > budget)
            return new AdmissionResult { Status = AdmissionStatus.KeyQuotaExceeded };
        return null;
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
            var minute = TimeBuckets.Minute(now);
            // The larger of what is counted and what was recorded, never the sum (see LiveScripts.Seed).
            AtLeast(LiveKeys.KeyQuota(key.KeyId, key.QuotaBucket), usage.PeriodTokens);
            AtLeast(LiveKeys.KeyBudget(key.KeyId, key.QuotaBucket), usage.PeriodMicros);
            AtLeast(LiveKeys.KeyRequests(key.KeyId, minute), usage.MinuteRequests);
            AtLeast(LiveKeys.KeyTokens(key.KeyId, minute), usage.MinuteTokens);
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

    /// <summary>Local leases that expire are those of requests that never settled (a bug); counted out all the same.</summary>
    private int Count(string key, DateTimeOffset now)
    {
        if (!_leases.TryGetValue(key, out var leases)) return 0;
        var live = 0;
        foreach (var expiry in leases.Values) if (expiry > now) live++;
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

    private void AtLeast(string key, long value) => _counters[key] = Math.Max(value, _counters.GetValueOrDefault(key));

    public DateTimeOffset? CooldownUntil(string deploymentId)
    {
        lock (_lock) return _cooldownUntil.TryGetValue(deploymentId, out var until) ? until : null;
    }
}
