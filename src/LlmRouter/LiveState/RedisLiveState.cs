using System.Collections.Concurrent;
using System.Globalization;
using LlmRouter.Configuration;
using StackExchange.Redis;

namespace LlmRouter.LiveState;

/// <summary>
/// Live state shared by every replica through Redis: one admission script and one settle script per request,
/// nothing per streamed chunk. When Redis is unreachable it falls back to <see cref="LocalLiveState"/> (and the
/// leases taken there are settled there), and goes back to Redis by itself once it returns.
/// </summary>
internal sealed partial class RedisLiveState(RedisConnection redis, LocalLiveState local, ILogger<RedisLiveState> logger) : ILiveState
{
    private readonly ConcurrentDictionary<string, Lease> _held = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyHold> _holds = new(StringComparer.Ordinal);
    private long _roundTrips;
    private int _fallbackLogged;

    public bool IsShared => redis.IsConnected;
    public event Action<string>? SlotReleased;

    /// <summary>Redis calls made for requests (admission + settle), for the benchmark's hot-path accounting.</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);


    public async ValueTask<AdmissionResult> AdmitAsync(AdmissionRequest request)
    {
        var db = redis.Database;
        AdmissionResult result;
        if (db is null)
        {
            result = await local.AdmitAsync(request);
        }
        else
        {
            try
            {
                result = await AdmitSharedAsync(db, request);
                Volatile.Write(ref _fallbackLogged, 0);
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                // Once per outage, not once per request.
                if (Interlocked.Exchange(ref _fallbackLogged, 1) == 0) Log.Fallback(logger, e.GetType().Name);
                result = await local.AdmitAsync(request);
            }
        }
        if (result.Lease is { } lease) _held[lease.Id] = lease;
        if (result.KeyHold is { } hold) _holds[hold.RequestId] = hold;
        return result;
    }

    private async Task<AdmissionResult> AdmitSharedAsync(IDatabase db, AdmissionRequest request)
    {
        var now = request.Now;
        var nowMs = now.ToUnixTimeMilliseconds();
        var minute = TimeBuckets.Minute(now);
        var candidates = request.Candidates;
        var keys = new RedisKey[LiveScripts.KeySlots + candidates.Count * LiveScripts.KeysPerCandidate];
        var args = new RedisValue[LiveScripts.FixedArgs + candidates.Count * LiveScripts.ArgsPerCandidate];
        var key = request.Key;
        var keyId = key?.KeyId ?? Guid.Empty;
        keys[0] = LiveKeys.KeyLeases(keyId);
        keys[1] = LiveKeys.KeyRequests(keyId, minute);
        keys[2] = LiveKeys.KeyTokens(keyId, minute);
        keys[3] = LiveKeys.KeyQuota(keyId, key?.QuotaBucket ?? "lifetime");
        keys[4] = LiveKeys.KeyBudget(keyId, key?.QuotaBucket ?? "lifetime");
        keys[5] = LiveKeys.KeySeeded(keyId, key?.QuotaBucket ?? "lifetime");
        var ttlMs = (long)(request.LeaseTtl.TotalMilliseconds * 2);
        args[0] = nowMs;
        args[1] = request.LeaseId;
        args[2] = (now + request.LeaseTtl).ToUnixTimeMilliseconds();
        args[3] = request.LeastBusy ? 1 : 0;
        args[4] = request.BackendLimit ?? -1;
        args[5] = key is null ? 0 : 1;
        args[6] = key?.RpmLimit ?? -1;
        args[7] = key?.TpmLimit ?? -1;
        args[8] = key?.MaxParallel ?? -1;
        args[9] = key?.QuotaLimit ?? -1;
        args[10] = key?.BudgetLimitMicros ?? -1;
        args[11] = key?.ReserveTokens ?? 0;
        args[12] = key?.ReserveMicros ?? 0;
        args[13] = candidates.Count;
        args[14] = ttlMs;
        args[15] = TimeBuckets.NextMinute(now).ToUnixTimeMilliseconds();
        args[16] = QuotaTtlMs(key, now);
        args[17] = request.RequestId;
        for (var i = 0; i < candidates.Count; i++)
        {
            var d = candidates[i];
            var k = LiveScripts.KeySlots + i * LiveScripts.KeysPerCandidate;
            keys[k] = LiveKeys.DeploymentLeases(d.Id);
            keys[k + 1] = LiveKeys.BackendLeases(d.BackendId);
            keys[k + 2] = LiveKeys.Cooldown(d.Id);
            keys[k + 3] = LiveKeys.DeploymentRequests(d.Id, minute);
            keys[k + 4] = LiveKeys.DeploymentTokens(d.Id, minute);
            keys[k + 5] = LiveKeys.Ttft(d.Id);
            var a = LiveScripts.FixedArgs + i * LiveScripts.ArgsPerCandidate;
            args[a] = d.MaxParallelRequests ?? -1;
            args[a + 1] = d.Rpm ?? -1;
            args[a + 2] = d.Tpm ?? -1;
        }

        Interlocked.Increment(ref _roundTrips);
        var reply = (RedisResult[])(await db.ScriptEvaluateAsync(LiveScripts.Admit, keys, args))!;
        var status = (string)reply[0]!;
        var chosen = (int)reply[1];
        var retryMs = (long)reply[2];
        var remainingRequests = (long)reply[3];
        var remainingTokens = (long)reply[4];
        var stats = new Dictionary<string, DeploymentStats>(candidates.Count, StringComparer.Ordinal);
        for (var i = 0; i < candidates.Count && 5 + i * 4 + 3 < reply.Length; i++)
        {
            var o = 5 + i * 4;
            stats[candidates[i].Id] = new DeploymentStats((int)reply[o],
                double.Parse((string)reply[o + 1]!, CultureInfo.InvariantCulture), (long)reply[o + 2], (long)reply[o + 3]);
        }
        return status switch
        {
            "ok" => new AdmissionResult
            {
                Status = AdmissionStatus.Admitted,
                Deployment = candidates[chosen - 1],
                Lease = new Lease(request.LeaseId, candidates[chosen - 1], shared: true),
                KeyHold = key is null ? null : new KeyHold(request.RequestId, key, minute, shared: true),
                RemainingRequests = remainingRequests >= 0 ? remainingRequests : null,
                RemainingTokens = remainingTokens >= 0 ? remainingTokens : null,
                Stats = stats,
            },
            "busy" => new AdmissionResult { Status = AdmissionStatus.Busy, Stats = stats },
            "cool" => new AdmissionResult { Status = AdmissionStatus.CoolingDown, RetryAt = now.AddMilliseconds(retryMs), Stats = stats },
            "rate" => new AdmissionResult
            {
                Status = AdmissionStatus.KeyRateLimited, RetryAt = now.AddMilliseconds(retryMs),
                RemainingRequests = remainingRequests >= 0 ? remainingRequests : null,
                RemainingTokens = remainingTokens >= 0 ? remainingTokens : null,
            },
            "seed" => new AdmissionResult { Status = AdmissionStatus.KeyNeedsSeed },
            "kpar" => new AdmissionResult { Status = AdmissionStatus.KeyParallelLimited, RetryAt = now.AddMilliseconds(retryMs) },
            _ => new AdmissionResult { Status = AdmissionStatus.KeyQuotaExceeded },
        };
    }

    /// <summary>Period counters outlive their period by a day, then Redis drops them; lifetime counters never expire.</summary>
    private static long QuotaTtlMs(KeyAdmission? key, DateTimeOffset now) =>
        key?.QuotaResets is { } resets && resets > now ? (long)(resets - now + TimeSpan.FromDays(1)).TotalMilliseconds : -1;

    public async Task SeedAsync(KeyAdmission key, KeyUsageSnapshot usage, DateTimeOffset now, TimeSpan? markerTtl = null)
    {
        if (redis.Database is not { } db)
        {
            await local.SeedAsync(key, usage, now, markerTtl);
            return;
        }
        try
        {
            var minute = TimeBuckets.Minute(now);
            RedisKey[] keys =
            [
                LiveKeys.KeySeeded(key.KeyId, key.QuotaBucket), LiveKeys.KeyQuota(key.KeyId, key.QuotaBucket),
                LiveKeys.KeyBudget(key.KeyId, key.QuotaBucket), LiveKeys.KeyRequests(key.KeyId, minute), LiveKeys.KeyTokens(key.KeyId, minute),
            ];
            var until = markerTtl is { } guess ? (now + guess).ToUnixTimeMilliseconds() : long.MaxValue / 2;
            RedisValue[] args = [usage.PeriodTokens, usage.PeriodMicros, usage.MinuteRequests, usage.MinuteTokens,
                QuotaTtlMs(key, now), now.ToUnixTimeMilliseconds(), until];
            Interlocked.Increment(ref _roundTrips);
            await db.ScriptEvaluateAsync(LiveScripts.Seed, keys, args);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Redis went away between admission and seed: the local state will ask for its own seed.
            await local.SeedAsync(key, usage, now, markerTtl);
        }
    }

    public async Task SettleAsync(SettleRequest request)
    {
        // Each part is settled once, where it was taken: a lease taken locally while Redis was away stays local.
        var lease = request.Lease is { } l && l.TrySettle() ? l : null;
        var hold = request.KeyHold is { } h && h.TrySettle() ? h : null;
        if (lease is null && hold is null) return;
        if (lease is not null) _held.TryRemove(lease.Id, out _);
        if (hold is not null) _holds.TryRemove(hold.RequestId, out _);
        try
        {
            // Copies only when the parts were taken in different places (a lease taken while Redis was away): rare.
            var localLease = lease is { Shared: false } ? lease : null;
            var localHold = hold is { Shared: false } ? hold : null;
            if (localLease is not null || localHold is not null)
                await local.SettleAsync(localLease == request.Lease && localHold == request.KeyHold ? request : request with { Lease = localLease, KeyHold = localHold });
            var sharedLease = lease is { Shared: true } ? lease : null;
            var sharedHold = hold is { Shared: true } ? hold : null;
            var shared = sharedLease == request.Lease && sharedHold == request.KeyHold ? request : request with { Lease = sharedLease, KeyHold = sharedHold };
            // A shared lease that cannot be released now simply expires with its TTL.
            if ((shared.Lease is not null || shared.KeyHold is not null) && redis.Database is { } db) await SettleSharedAsync(db, shared);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Log.SettleFailed(logger, lease?.Deployment.Id ?? "-", e.GetType().Name);
        }
        finally
        {
            if (lease is { Shared: true }) SlotReleased?.Invoke(lease.Deployment.ModelName);
        }
    }

    private async Task SettleSharedAsync(IDatabase db, SettleRequest request)
    {
        var lease = request.Lease;
        var hold = request.KeyHold;
        var depId = lease?.Deployment.Id ?? "-";
        var key = hold?.Key;
        var keyId = key?.KeyId ?? Guid.Empty;
        RedisKey[] keys =
        [
            LiveKeys.DeploymentLeases(depId), LiveKeys.BackendLeases(lease?.Deployment.BackendId ?? "-"), LiveKeys.KeyLeases(keyId),
            LiveKeys.KeyTokens(keyId, hold?.MinuteBucket ?? "-"), LiveKeys.KeyQuota(keyId, key?.QuotaBucket ?? "lifetime"),
            LiveKeys.KeyBudget(keyId, key?.QuotaBucket ?? "lifetime"), LiveKeys.DeploymentTokens(depId, TimeBuckets.Minute(request.Now)),
            LiveKeys.Failures(depId), LiveKeys.Cooldown(depId), LiveKeys.Ttft(depId),
        ];
        RedisValue[] args =
        [
            lease?.Id ?? "", key is null ? 0 : 1, request.ActualTokens - (key?.ReserveTokens ?? 0), request.ActualMicros - (key?.ReserveMicros ?? 0),
            request.ActualTokens, request.Failed ? 1 : 0, request.Now.ToUnixTimeMilliseconds(), request.AllowedFails,
            (long)request.FailureWindow.TotalMilliseconds, (long)request.CooldownTime.TotalMilliseconds,
            request.TtftMs is { } ttft ? Math.Round(ttft, 3) : -1, hold?.RequestId ?? "",
        ];
        Interlocked.Increment(ref _roundTrips);
        await db.ScriptEvaluateAsync(LiveScripts.Settle, keys, args);
    }

    /// <summary>
    /// Renews every lease this process holds (one script call for all of them). With <paramref name="rebuild"/>,
    /// re-adds them: Redis restarted without persistence, and live leases are the truth to rebuild counts from.
    /// </summary>
    public async Task RenewAsync(DateTimeOffset now, TimeSpan leaseTtl, bool rebuild)
    {
        var leases = _held.Values.ToArray();
        var holds = _holds.Values.ToArray();
        var expiry = now + leaseTtl;
        local.Renew(leases.Where(l => !l.Shared), holds.Where(h => !h.Shared), expiry);
        if (redis.Database is not { } db) return;
        var keys = new List<RedisKey>();
        var args = new List<RedisValue> { expiry.ToUnixTimeMilliseconds(), rebuild ? 1 : 0, (long)(leaseTtl.TotalMilliseconds * 2) };
        foreach (var lease in leases.Where(l => l.Shared && !l.IsSettled))
        {
            keys.Add(LiveKeys.DeploymentLeases(lease.Deployment.Id));
            args.Add(lease.Id);
            keys.Add(LiveKeys.BackendLeases(lease.Deployment.BackendId));
            args.Add(lease.Id);
        }
        foreach (var hold in holds.Where(h => h.Shared && !h.IsSettled))
        {
            keys.Add(LiveKeys.KeyLeases(hold.Key.KeyId));
            args.Add(hold.RequestId);
        }
        if (keys.Count > 0) await db.ScriptEvaluateAsync(LiveScripts.Renew, keys.ToArray(), args.ToArray());
    }

    private static partial class Log
    {
        [LoggerMessage(10, LogLevel.Warning, "Redis admission failed ({Error}); admitted with process-local counts")]
        public static partial void Fallback(ILogger logger, string error);

        [LoggerMessage(11, LogLevel.Warning, "Redis settle for {Deployment} failed ({Error}); its lease will expire on its own")]
        public static partial void SettleFailed(ILogger logger, string deployment, string error);
    }
}
