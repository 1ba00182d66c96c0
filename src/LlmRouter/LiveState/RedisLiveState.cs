using System.Collections.Concurrent;
using System.Globalization;
using LlmRouter.Configuration;
using StackExchange.Redis;

namespace LlmRouter.LiveState;

/// <summary>
/// Live state shared by every replica through Redis: an admission script and a settle script per request, nothing
/// per streamed chunk. Requests that arrive while a call is under way share the next call (<see cref="GroupCommit{TItem,TResult}"/>),
/// so under load one script call admits many. Requests that come back to back find their admission taken ahead
/// (<see cref="SpareAdmissions"/>) and do not wait for Redis at all. When Redis is unreachable it falls back to
/// <see cref="LocalLiveState"/> (and the leases taken there are settled there), and goes back to Redis by itself once it returns.
/// </summary>
internal sealed partial class RedisLiveState : ILiveState, IDisposable
{
    /// <summary>Requests per script call at most; a call's keys and arguments stay well under Redis's limits.</summary>
    private const int MaxBatch = 128;

    /// <summary>After a script call timed out, admissions stay process-local this long before Redis is tried again.</summary>
    private static readonly TimeSpan StuckPause = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long after Redis answers again a key that was counted in this process meanwhile is re-seeded from its
    /// recorded usage: longer than the usage writer's flush (1 s by default), so the rows of the requests counted here
    /// are in Postgres when the re-seed reads them.
    /// </summary>
    internal static readonly TimeSpan ReseedAfterOutage = TimeSpan.FromSeconds(5);

    /// <summary>The settle of a request whose every attempt failed has no deployment slot to release.</summary>
    private static readonly DeploymentKeys NoDeployment = new("-", "-");

    private readonly RedisConnection _redis;
    private readonly LocalLiveState _local;
    private readonly ILogger<RedisLiveState> _logger;
    private readonly GroupCommit<AdmissionRequest, RedisResult> _admissions;
    private readonly GroupCommit<SettleRequest, bool> _settles;
    private readonly RidingSettles _riding;
    private readonly SpareAdmissions? _spares;
    private readonly HotKeys _names = new();
    private readonly ConcurrentDictionary<string, Lease> _held = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, KeyHold> _holds = new(StringComparer.Ordinal);
    private readonly TimeProvider _time;
    /// <summary>Keys (and their quota period) admitted with process-local counts while Redis was away or stuck.</summary>
    private readonly ConcurrentDictionary<(Guid KeyId, string Bucket), byte> _countedLocally = new();
    /// <summary>Kept beside the dictionary because every admission reads it, and an empty ConcurrentDictionary's Count and IsEmpty take all its locks.</summary>
    private int _countedLocallyCount;
    /// <summary>The epoch key's value when this replica last looked (see <see cref="CheckEpochAsync"/>).</summary>
    private string? _epoch;
    private readonly SemaphoreSlim _epochChecks = new(1, 1);
    /// <summary>State losses noticed, and how many of them the leases have been re-added after (a failed renew is tried again).</summary>
    private int _losses;
    private int _rebuiltAfter;
    private readonly TimeSpan _leaseTtl;
    private int _reconciling;
    private long _roundTrips;
    private int _fallbackLogged;
    /// <summary>Timestamp (<see cref="TimeProvider.GetTimestamp"/>) before which Redis, last seen stuck, is not asked.</summary>
    private long _stuckUntil;
    /// <summary>1 once an admission has come back from Redis: only then does a timeout mean Redis is stuck.</summary>
    private int _answered;

    /// <param name="settings">Null: no spares (as with <c>prefetch_admissions: false</c>).</param>
    /// <param name="time">The clock requests are admitted by; the system's when null.</param>
    /// <param name="settleWait">The longest a quiet settle waits to ride with an admission call (<see cref="RidingSettles"/>).</param>
    public RedisLiveState(RedisConnection redis, LocalLiveState local, ILogger<RedisLiveState> logger, RouterSettings? settings = null,
        TimeProvider? time = null, TimeSpan? settleWait = null)
    {
        _redis = redis;
        _local = local;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _leaseTtl = settings?.LeaseTtl ?? new RouterSettings().LeaseTtl;
        // An admission's caller goes on to route and send its request; a settle's only counts it done.
        _admissions = new GroupCommit<AdmissionRequest, RedisResult>(SendAdmissionsAsync, MaxBatch, inTurn: Environment.ProcessorCount == 1);
        _settles = new GroupCommit<SettleRequest, bool>(SendSettlesAsync, MaxBatch, inTurn: true);
        _riding = new RidingSettles((batch, riding) => SendSettlesAsync(batch, riding), MaxBatch, settleWait ?? RidingSettles.DefaultWait);
        if (settings is { PrefetchAdmissions: true }) _spares = new SpareAdmissions(_time, AdmitSpares, ReleaseSpareAsync);
    }

    public bool IsShared => _redis.IsConnected && !Stuck;

    /// <summary>A script call timed out a moment ago: Redis holds the connection but does not answer.</summary>
    private bool Stuck => _time.GetTimestamp() < Volatile.Read(ref _stuckUntil);
    public event Action<string>? SlotReleased;

    /// <summary>Redis calls made for requests (admission + settle), for the benchmark's hot-path accounting.</summary>
    public long RoundTrips => Interlocked.Read(ref _roundTrips);

    /// <summary>Requests admitted with a spare, spares given back unused, spares waiting now and spares being taken now.</summary>
    public SpareCounts Spares => _spares is { } s ? new SpareCounts(s.Used, s.Released, s.Waiting, s.Taking) : default;

    public async ValueTask<AdmissionResult> AdmitAsync(AdmissionRequest request)
    {
        var db = _redis.Database;
        AdmissionResult result;
        if (db is null || Stuck)
        {
            result = await _local.AdmitAsync(request);
            CountedLocally(request);
        }
        else
        {
            SpareAdmissions.Ticket ticket = default;
            if (_spares is { } spares && SpareAdmissions.Applies(request) && spares.Take(request, out ticket) is { } spare)
            {
                // Its lease and key hold were registered when it was taken.
                spares.After(ticket, request, spare);
                return spare;
            }
            AdmissionResult? shared = null;
            try
            {
                result = shared = await AdmitSharedAsync(request);
                Volatile.Write(ref _fallbackLogged, 0);
                if (Volatile.Read(ref _countedLocallyCount) > 0) _ = ReconcileAsync(db);
                if (Volatile.Read(ref _answered) == 0) Volatile.Write(ref _answered, 1);
            }
            catch (Exception e) when (e is RedisException or RedisUnavailableException or TimeoutException)
            {
                // Once per outage, not once per request.
                if (Interlocked.Exchange(ref _fallbackLogged, 1) == 0) Log.Fallback(_logger, e.GetType().Name);
                // A stuck Redis would cost every request the whole timeout: leave it alone for a while. Not before it has
                // answered once: a replica's first calls can be slow for its own reasons (starting on a busy machine),
                // and counting alone for the pause would let each replica admit up to a key's whole limit.
                if (e is TimeoutException && Volatile.Read(ref _answered) == 1)
                    Volatile.Write(ref _stuckUntil, _time.GetTimestamp() + (long)(StuckPause.TotalSeconds * _time.TimestampFrequency));
                result = await _local.AdmitAsync(request);
                CountedLocally(request);
            }
            finally
            {
                _spares?.After(ticket, request, shared);
            }
        }
        Hold(result);
        return result;
    }

    private void CountedLocally(AdmissionRequest request)
    {
        // Without Redis there is nothing to reconcile with (and nothing would ever empty the set).
        if (!_redis.IsConfigured) return;
        if (request.Key is { } key && _countedLocally.TryAdd((key.KeyId, key.QuotaBucket), 0)) Interlocked.Increment(ref _countedLocallyCount);
    }

    /// <summary>
    /// Redis answers again. What this process counted meanwhile is in its own state only, and Redis's counters lack it:
    /// each such key is re-seeded from recorded usage <see cref="ReseedAfterOutage"/> from now (its seeded marker is
    /// brought forward), which by then holds those requests; the seed takes the larger of counted and recorded. The
    /// process-local marker goes too, so a later outage starts from recorded usage rather than from this one's counts.
    /// </summary>
    private async Task ReconcileAsync(IDatabase db)
    {
        if (Interlocked.Exchange(ref _reconciling, 1) == 1) return;
        var keys = new List<(Guid KeyId, string Bucket)>();
        try
        {
            foreach (var key in _countedLocally.Keys)
            {
                if (!_countedLocally.TryRemove(key, out _)) continue;
                Interlocked.Decrement(ref _countedLocallyCount);
                keys.Add(key);
            }
            if (keys.Count == 0) return;
            var until = (_time.GetUtcNow() + ReseedAfterOutage).ToUnixTimeMilliseconds();
            var markers = keys.Select(k => (RedisKey)LiveKeys.KeySeeded(k.KeyId, k.Bucket)).ToArray();
            Interlocked.Increment(ref _roundTrips);
            await LiveScripts.Reseed.EvaluateAsync(db, markers, [until], _redis.CallTimeout);
            foreach (var (keyId, bucket) in keys) _local.ForgetSeed(keyId, bucket);
            Log.Reseeding(_logger, keys.Count, ReseedAfterOutage.TotalSeconds);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Tried again with the next admission that reaches Redis.
            foreach (var key in keys)
            {
                if (_countedLocally.TryAdd(key, 0)) Interlocked.Increment(ref _countedLocallyCount);
            }
        }
        finally
        {
            Volatile.Write(ref _reconciling, 0);
        }
    }

    /// <summary>Spares are admitted like any request, together in one call, and held (their leases renewed) until a request takes them or they are released.</summary>
    internal Task<AdmissionResult>[] AdmitSpares(IReadOnlyList<AdmissionRequest> requests)
    {
        var replies = _admissions.SendAll(requests);
        var results = new Task<AdmissionResult>[requests.Count];
        for (var i = 0; i < results.Length; i++) results[i] = AdmitSpareAsync(requests[i], replies[i]);
        return results;
    }

    private async Task<AdmissionResult> AdmitSpareAsync(AdmissionRequest request, Task<RedisResult> reply)
    {
        var result = Admitted(request, await reply);
        Hold(result);
        return result;
    }

    public void Finished(Lease? lease, KeyHold? hold, TimeSpan took)
    {
        // Not while Redis is away or stuck: a refill would only wait for its timeout.
        if (_spares is not { } spares || lease is not { Shared: true, Quiet: true } || _redis.Database is null || Stuck) return;
        spares.Finished(hold?.Key.KeyId ?? Guid.Empty, lease.Deployment.ModelName, took);
    }

    /// <summary>Keeps what an admission took, so the heartbeat renews it until it is settled.</summary>
    private void Hold(AdmissionResult result)
    {
        if (result.Lease is { } lease) _held[lease.Id] = lease;
        if (result.KeyHold is { } hold) _holds[hold.RequestId] = hold;
    }

    private Task ReleaseSpareAsync(SpareAdmissions.Spare spare) => ReleaseAsync(spare.Result, spare.Request.Now);

    /// <summary>Gives back an admission no request used: its lease, and what it counted for the key in the minute of <paramref name="admittedAt"/>.</summary>
    private Task ReleaseAsync(AdmissionResult admitted, DateTimeOffset admittedAt) => SettleAsync(new SettleRequest
    {
        Lease = admitted.Lease, KeyHold = admitted.KeyHold, Now = admittedAt, Released = true,
        AllowedFails = 1, FailureWindow = TimeSpan.Zero, CooldownTime = TimeSpan.Zero,
    });

    /// <summary>Gives back every spare (at shutdown, before the last settles are waited for).</summary>
    public Task ReleaseSparesAsync() => _spares?.ReleaseAllAsync() ?? Task.CompletedTask;

    public void Dispose()
    {
        _spares?.Dispose();
        _riding.Dispose();
    }

    private async Task<AdmissionResult> AdmitSharedAsync(AdmissionRequest request) => Admitted(request, await _admissions.SendAsync(request));

    /// <summary>What Redis's reply to <paramref name="request"/>'s admission says.</summary>
    private static AdmissionResult Admitted(AdmissionRequest request, RedisResult result)
    {
        var reply = (RedisResult[])result!;
        var now = request.Now;
        var minute = TimeBuckets.Minute(now);
        var candidates = request.Candidates;
        var key = request.Key;
        var status = (string)reply[0]!;
        var chosen = (int)reply[1];
        var retryMs = (long)reply[2];
        var remainingRequests = (long)reply[3];
        var remainingTokens = (long)reply[4];
        var table = request.NewStats();
        var stats = table ?? AdmissionResult.NoStats;
        var nearLimit = (int)reply[5] == 1;
        var plentyLeft = (int)reply[6] == 1;
        for (var i = 0; table is not null && i < candidates.Count && LiveScripts.ReplyHead + i * 4 + 3 < reply.Length; i++)
        {
            var o = LiveScripts.ReplyHead + i * 4;
            table[candidates[i].Id] = new DeploymentStats((int)reply[o],
                double.Parse((string)reply[o + 1]!, CultureInfo.InvariantCulture), (long)reply[o + 2], (long)reply[o + 3]);
        }
        return status switch
        {
            "ok" => new AdmissionResult
            {
                Status = AdmissionStatus.Admitted,
                Deployment = candidates[chosen - 1],
                Lease = new Lease(request.LeaseId, candidates[chosen - 1], shared: true, onBackend: request.BackendLimit is not null,
                    quiet: SpareAdmissions.Quiet(request)),
                KeyHold = key is null ? null : new KeyHold(request.RequestId, key, minute, shared: true, nearLimit),
                RemainingRequests = remainingRequests >= 0 ? remainingRequests : null,
                RemainingTokens = remainingTokens >= 0 ? remainingTokens : null,
                Stats = stats,
                PlentyLeft = plentyLeft,
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

    /// <summary>One script call for every admission that queued up while the previous call was under way.</summary>
    private async Task<RedisResult[]> SendAdmissionsAsync(IReadOnlyList<AdmissionRequest> batch)
    {
        var db = _redis.Database ?? throw new RedisUnavailableException();
        int keyCount = 0, argCount = 0;
        for (var i = 0; i < batch.Count;)
        {
            var followers = Followers(batch, i);
            keyCount += KeysFor(batch[i]);
            argCount += ArgsFor(batch[i]) + 2 * followers;
            i += 1 + followers;
        }
        var keys = new RedisKey[keyCount];
        var args = new RedisValue[argCount];
        int ko = 0, ao = 0;
        for (var i = 0; i < batch.Count;)
        {
            var request = batch[i];
            var followers = Followers(batch, i);
            WriteAdmission(request, keys.AsSpan(ko, KeysFor(request)), args.AsSpan(ao, ArgsFor(request)), followers);
            ko += KeysFor(request);
            ao += ArgsFor(request);
            for (i++; followers-- > 0; i++)
            {
                args[ao++] = batch[i].LeaseId;
                args[ao++] = batch[i].RequestId;
            }
        }
        // Settles waiting to ride go first on the same connection, so Redis runs them before these admissions.
        _riding.SendWith();
        Interlocked.Increment(ref _roundTrips);
        try
        {
            return (RedisResult[])(await LiveScripts.Admit.EvaluateAsync(db, keys, args, _redis.CallTimeout))!;
        }
        catch (RedisCallTimeoutException e)
        {
            // The callers go on without Redis (counted locally, or no spare); whatever Redis admits later is given back.
            _ = GiveBackLateAsync(batch, e.Late);
            throw;
        }
    }

    /// <summary>
    /// Once Redis answers an admission call its callers stopped waiting for, releases what it admitted: no request
    /// uses those leases and counts, and left alone they would count against the deployments until the leases expire
    /// and against the key for the rest of its minute.
    /// </summary>
    private async Task GiveBackLateAsync(IReadOnlyList<AdmissionRequest> batch, Task<RedisResult> late)
    {
        RedisResult[] replies;
        try
        {
            replies = (RedisResult[])(await late)!;
        }
        catch (Exception)
        {
            // It never ran, or its answer was lost with the connection: what it counted, if anything, cannot be known
            // here; its leases expire on their own.
            return;
        }
        var released = 0;
        for (var i = 0; i < batch.Count && i < replies.Length; i++)
        {
            var result = Admitted(batch[i], replies[i]);
            if (result.Status != AdmissionStatus.Admitted) continue;
            _ = ReleaseAsync(result, batch[i].Now);
            released++;
        }
        if (released > 0) Log.LateAnswer(_logger, released);
    }

    private static int KeysFor(AdmissionRequest request) => LiveScripts.KeySlots + request.Candidates.Count * LiveScripts.KeysPerCandidate;

    private static int ArgsFor(AdmissionRequest request) => LiveScripts.FixedArgs + request.Candidates.Count * LiveScripts.ArgsPerCandidate;

    /// <summary>
    /// How many requests right after <c>batch[i]</c> are the same admission but for their ids (spares taken together,
    /// <see cref="AdmissionRequest.SameAs"/>): they go as ids after it, not as admissions of their own.
    /// </summary>
    private static int Followers(IReadOnlyList<AdmissionRequest> batch, int i)
    {
        var first = batch[i].SameAs ?? batch[i];
        var count = 0;
        while (i + count + 1 < batch.Count && ReferenceEquals(batch[i + count + 1].SameAs, first)) count++;
        return count;
    }

    /// <param name="followers">Admissions like this one whose ids the caller writes after these arguments.</param>
    private void WriteAdmission(AdmissionRequest request, Span<RedisKey> keys, Span<RedisValue> args, int followers)
    {
        var now = request.Now;
        var nowMs = now.ToUnixTimeMilliseconds();
        var minute = TimeBuckets.Minute(now);
        var candidates = request.Candidates;
        var key = request.Key;
        var keyId = key?.KeyId ?? Guid.Empty;
        var names = _names.For(keyId);
        var keyMinute = names.Minute(minute);
        var period = names.Period(key?.QuotaBucket ?? "lifetime");
        keys[0] = names.Leases;
        keys[1] = keyMinute.Requests;
        keys[2] = keyMinute.Tokens;
        keys[3] = period.Quota;
        keys[4] = period.Budget;
        keys[5] = period.Seeded;
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
        args[18] = followers;
        for (var i = 0; i < candidates.Count; i++)
        {
            var d = candidates[i];
            var k = LiveScripts.KeySlots + i * LiveScripts.KeysPerCandidate;
            var dn = _names.For(d);
            var depMinute = dn.Minute(minute);
            keys[k] = dn.Leases;
            keys[k + 1] = dn.BackendLeases;
            keys[k + 2] = dn.Cooldown;
            keys[k + 3] = depMinute.Requests;
            keys[k + 4] = depMinute.Tokens;
            keys[k + 5] = dn.Ttft;
            var a = LiveScripts.FixedArgs + i * LiveScripts.ArgsPerCandidate;
            args[a] = d.MaxParallelRequests ?? -1;
            args[a + 1] = d.Rpm ?? -1;
            args[a + 2] = d.Tpm ?? -1;
        }
    }

    /// <summary>Period counters outlive their period by a day, then Redis drops them; lifetime counters never expire.</summary>
    private static long QuotaTtlMs(KeyAdmission? key, DateTimeOffset now) =>
        key?.QuotaResets is { } resets && resets > now ? (long)(resets - now + TimeSpan.FromDays(1)).TotalMilliseconds : -1;

    public async Task SeedAsync(KeyAdmission key, KeyUsageSnapshot usage, DateTimeOffset now, TimeSpan? markerTtl = null)
    {
        // Not while Redis is stuck either: the seed would wait out a second timeout before counting locally.
        if (_redis.Database is not { } db || Stuck)
        {
            await _local.SeedAsync(key, usage, now, markerTtl);
            return;
        }
        try
        {
            // The first admission of a key with limits after Redis lost its state comes here (its seeded marker went with
            // the rest): what was counted before the loss is set apart before anything is counted after it.
            await CheckEpochAsync();
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
            await LiveScripts.Seed.EvaluateAsync(db, keys, args, _redis.CallTimeout);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Redis went away between admission and seed: the local state will ask for its own seed.
            await _local.SeedAsync(key, usage, now, markerTtl);
        }
    }

    public Task SettleAsync(SettleRequest request)
    {
        // Each part is settled once, where it was taken: a lease taken locally while Redis was away stays local.
        var lease = request.Lease is { } l && l.TrySettle() ? l : null;
        var hold = request.KeyHold is { } h && h.TrySettle() ? h : null;
        if (lease is null && hold is null) return Task.CompletedTask;
        if (lease is not null) _held.TryRemove(lease.Id, out _);
        // A deployment that just failed may be cooling down now: no request should find a spare on it.
        if (lease is not null && request.Failed) _spares?.Drop(lease.Deployment.Id);
        if (hold is not null) _holds.TryRemove(hold.RequestId, out _);
        // Copies only when the parts were taken in different places (a lease taken while Redis was away): rare.
        var localLease = lease is { Shared: false } ? lease : null;
        var localHold = hold is { Shared: false } ? hold : null;
        if (localLease is not null || localHold is not null)
            _local.SettleAsync(localLease == request.Lease && localHold == request.KeyHold ? request : request with { Lease = localLease, KeyHold = localHold });
        var sharedLease = lease is { Shared: true } ? lease : null;
        var sharedHold = hold is { Shared: true } ? hold : null;
        if (sharedLease is null && sharedHold is null) return Task.CompletedTask;
        var shared = sharedLease == request.Lease && sharedHold == request.KeyHold ? request : request with { Lease = sharedLease, KeyHold = sharedHold };
        // A failure counts toward a cooldown at once, and a key near its limit needs the real count before its next request.
        return sharedLease is { Quiet: true } && !request.Failed && sharedHold is not { NearLimit: true }
            ? _riding.Add(shared)
            : _settles.SendAsync(shared);
    }

    /// <summary>One script call for every settle that queued up while the previous call was under way.</summary>
    private Task<bool[]> SendSettlesAsync(IReadOnlyList<SettleRequest> batch) => SendSettlesAsync(batch, riding: false);

    /// <param name="riding">Sent just ahead of an admission call, in the same round trip: not counted as one of its own.</param>
    private async Task<bool[]> SendSettlesAsync(IReadOnlyList<SettleRequest> batch, bool riding)
    {
        var settled = new bool[batch.Count];
        try
        {
            // A shared lease that cannot be released now simply expires with its TTL.
            if (_redis.Database is not { } db) return settled;
            var keys = new RedisKey[batch.Count * LiveScripts.SettleKeys];
            var args = new RedisValue[batch.Count * LiveScripts.SettleArgs];
            // Settles of one deployment and key in one minute have the same keys: sent once, for all of them in a row.
            var ko = 0;
            for (var i = 0; i < batch.Count; i++)
            {
                var own = keys.AsSpan(ko, LiveScripts.SettleKeys);
                var ownArgs = args.AsSpan(i * LiveScripts.SettleArgs, LiveScripts.SettleArgs);
                WriteSettle(batch[i], own, ownArgs);
                var shared = ko > 0 && own.SequenceEqual(keys.AsSpan(ko - LiveScripts.SettleKeys, LiveScripts.SettleKeys));
                ownArgs[^1] = shared ? 0 : 1;
                if (!shared) ko += LiveScripts.SettleKeys;
            }
            if (ko < keys.Length) keys = keys[..ko];
            if (!riding) Interlocked.Increment(ref _roundTrips);
            var cooling = (RedisResult[])(await LiveScripts.Settle.EvaluateAsync(db, keys, args, _redis.CallTimeout))!;
            Array.Fill(settled, true);
            foreach (var position in cooling)
            {
                var failure = batch[(int)position - 1];
                CooldownLog.Started(_logger, failure.Lease!.Deployment, failure);
            }
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            Log.SettleFailed(_logger, batch.Count, e.GetType().Name);
        }
        finally
        {
            foreach (var request in batch)
                if (request.Lease is { } lease) SlotReleased?.Invoke(lease.Deployment.ModelName);
        }
        return settled;
    }

    private void WriteSettle(SettleRequest request, Span<RedisKey> keys, Span<RedisValue> args)
    {
        var lease = request.Lease;
        var hold = request.KeyHold;
        var key = hold?.Key;
        var dn = lease is null ? NoDeployment : _names.For(lease.Deployment);
        var names = _names.For(key?.KeyId ?? Guid.Empty);
        var period = names.Period(key?.QuotaBucket ?? "lifetime");
        // The minutes the request was counted in: the key's when it took its share, this one for a deployment.
        var admitted = TimeBuckets.Minute(request.Now);
        var keyMinute = names.Minute(hold?.MinuteBucket ?? admitted);
        var deploymentMinute = dn.Minute(admitted);
        keys[0] = dn.Leases;
        keys[1] = dn.BackendLeases;
        keys[2] = names.Leases;
        keys[3] = keyMinute.Tokens;
        keys[4] = period.Quota;
        keys[5] = period.Budget;
        keys[6] = deploymentMinute.Tokens;
        keys[7] = dn.Failures;
        keys[8] = dn.Cooldown;
        keys[9] = dn.Ttft;
        keys[10] = keyMinute.Requests;
        keys[11] = deploymentMinute.Requests;
        args[0] = lease?.Id ?? "";
        args[1] = key is null ? 0 : 1;
        var reserved = hold is { ReservationLost: false } ? key! : null;
        args[2] = request.ActualTokens - (reserved?.ReserveTokens ?? 0);
        args[3] = request.ActualMicros - (reserved?.ReserveMicros ?? 0);
        args[4] = request.ActualTokens;
        args[5] = request.Failed ? 1 : 0;
        args[6] = request.Now.ToUnixTimeMilliseconds();
        args[7] = request.AllowedFails;
        args[8] = (long)request.FailureWindow.TotalMilliseconds;
        args[9] = (long)request.CooldownTime.TotalMilliseconds;
        args[10] = request.TtftMs is { } ttft ? Math.Round(ttft, 3) : -1;
        // The key's lease set only holds requests of keys with a parallel limit (see Admit).
        args[11] = hold is { Key.MaxParallel: not null } ? hold.RequestId : "";
        args[12] = request.Released ? 1 : 0;
        args[13] = lease is { OnBackend: true } ? 1 : 0;
    }

    /// <summary>
    /// Whether Redis lost its state (restarted without persistence, flushed) since this replica last looked: the epoch
    /// key it knew is gone. Asked by the lease heartbeat and before a key's counters are seeded. True once per loss; by
    /// then what was counted before the loss is set apart and the live leases are re-added (or owed to the next renew).
    /// </summary>
    public async Task<bool> CheckEpochAsync()
    {
        if (_redis.Database is not { } db) return false;
        // One check at a time, each one atomic in Redis: a check whose read straddled the loss must not land after a
        // newer one and report the same loss again.
        await _epochChecks.WaitAsync();
        try
        {
            var current = (string?)await db.ScriptEvaluateAsync(EpochScript, [LiveKeys.Epoch], [Hosting.Ids.NewHex()]).WaitAsync(_redis.CallTimeout);
            var lost = _epoch is not null && current != _epoch;
            _epoch = current;
            if (!lost) return false;
            ForgetCountedBeforeLoss();
            // Leases are re-added by the next renew, however many tries that takes.
            Interlocked.Increment(ref _losses);
        }
        finally
        {
            _epochChecks.Release();
        }
        Log.StateLost(_logger);
        // The other replicas look at once (LeaseHeartbeat listens) rather than at their next heartbeat: until they do,
        // they count on the rebuilt counters, and what they count then would be set apart as counted before the loss.
        try
        {
            _redis.Subscriber?.Publish(StateLostChannel, "", CommandFlags.FireAndForget);
        }
        catch (Exception e) when (e is RedisException or ObjectDisposedException)
        {
            // Redis went away again, or the process is stopping: the others' heartbeats will notice.
        }
        await ReAddLeasesAsync();
        return true;
    }

    /// <summary>
    /// Counts this replica in the replica set (<see cref="LiveKeys.Replicas"/>) and reads how many replicas did so within
    /// one lease TTL; the lease heartbeat calls it every beat. While Redis is away the process-local state holds each key
    /// to this replica's share of its limits (<see cref="LocalLiveState.Replicas"/>), so the replicas together do not let
    /// through more than a key's limits.
    /// </summary>
    public async Task CountReplicasAsync(DateTimeOffset now, TimeSpan leaseTtl)
    {
        // Not counted in RoundTrips, which are the calls made for requests. Not once this replica has left (stopping).
        if (_redis.Database is not { } db || _left) return;
        var count = (long)await db.ScriptEvaluateAsync(ReplicasScript, [LiveKeys.Replicas],
            [now.ToUnixTimeMilliseconds(), (now - leaseTtl).ToUnixTimeMilliseconds(), _replicaId, (long)(leaseTtl.TotalMilliseconds * 2)]).WaitAsync(_redis.CallTimeout);
        _local.Replicas = (int)Math.Min(int.MaxValue, count);
    }

    /// <summary>
    /// Takes this replica out of the replica set as it stops, so the others' shares of a key's limits (used while Redis
    /// is away) grow back at their next heartbeat rather than a lease TTL later. Redis away: its entry ages out.
    /// </summary>
    public async Task LeaveReplicasAsync()
    {
        _left = true;
        if (_redis.Database is not { } db) return;
        try
        {
            await db.SortedSetRemoveAsync(LiveKeys.Replicas, _replicaId).WaitAsync(_redis.CallTimeout);
        }
        catch (Exception e) when (e is RedisException or TimeoutException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Replicas that beat within one lease TTL, as Redis last said (1 before it has said).</summary>
    public int Replicas => _local.Replicas;

    /// <summary>This replica in the replica set.</summary>
    private readonly string _replicaId = Hosting.Ids.NewHex();

    /// <summary>Set as the replica stops: a heartbeat after that (a reconnect) must not count it back in.</summary>
    private volatile bool _left;

    private const string ReplicasScript = """
        redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3])
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[2])
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        return redis.call('ZCARD', KEYS[1])
        """;

    /// <summary>Sets the epoch if Redis has none (its state is new or was lost) and returns it, in one step.</summary>
    private const string EpochScript = "redis.call('SET', KEYS[1], ARGV[1], 'NX') return redis.call('GET', KEYS[1])";

    /// <summary>Leases re-added at once after a loss; when that fails, the heartbeat's next renew tries again.</summary>
    private async Task ReAddLeasesAsync()
    {
        try
        {
            await RenewAsync(_time.GetUtcNow(), _leaseTtl, rebuild: true);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
        }
    }

    /// <summary>Where a replica that noticed a state loss says so.</summary>
    public static readonly RedisChannel StateLostChannel = new(RedisConnection.Prefix + "state-lost", RedisChannel.PatternMode.Literal);

    /// <summary>
    /// Redis lost what this replica had counted there. Waiting spares are dropped without a settle (one would take their
    /// counts off the rebuilt counters), and requests in flight will settle with what they used rather than what they
    /// reserved (<see cref="KeyHold.ReservationLost"/>).
    /// </summary>
    private void ForgetCountedBeforeLoss()
    {
        _spares?.DropUncounted(spare =>
        {
            if (spare.Result.Lease is { } lease && lease.TrySettle()) _held.TryRemove(lease.Id, out _);
            if (spare.Result.KeyHold is { } hold && hold.TrySettle()) _holds.TryRemove(hold.RequestId, out _);
        });
        foreach (var hold in _holds.Values)
            if (hold.Shared) hold.ReservationLost = true;
    }

    /// <summary>
    /// Renews every lease this process holds (one script call for all of them). With <paramref name="rebuild"/>, or while
    /// a re-add is owed since a loss (<see cref="CheckEpochAsync"/>), re-adds them: Redis lost its state, and live leases
    /// are the truth to rebuild counts from.
    /// </summary>
    public async Task RenewAsync(DateTimeOffset now, TimeSpan leaseTtl, bool rebuild)
    {
        // A rebuild owed since a loss is owed until one succeeds, and a loss noticed meanwhile owes another.
        var losses = Volatile.Read(ref _losses);
        rebuild |= losses != Volatile.Read(ref _rebuiltAfter);
        var leases = _held.Values.ToArray();
        var holds = _holds.Values.ToArray();
        var expiry = now + leaseTtl;
        _local.Renew(leases.Where(l => !l.Shared), holds.Where(h => !h.Shared), expiry);
        if (_redis.Database is not { } db) return;
        var keys = new List<RedisKey>();
        var args = new List<RedisValue> { expiry.ToUnixTimeMilliseconds(), rebuild ? 1 : 0, (long)(leaseTtl.TotalMilliseconds * 2), now.ToUnixTimeMilliseconds() };
        foreach (var lease in leases.Where(l => l.Shared && !l.IsSettled))
        {
            keys.Add(LiveKeys.DeploymentLeases(lease.Deployment.Id));
            args.Add(lease.Id);
            if (!lease.OnBackend) continue;
            keys.Add(LiveKeys.BackendLeases(lease.Deployment.BackendId));
            args.Add(lease.Id);
        }
        // Only a key with a parallel limit has its requests in a lease set (see LiveScripts.Admit).
        foreach (var hold in holds.Where(h => h is { Shared: true, IsSettled: false, Key.MaxParallel: not null }))
        {
            keys.Add(LiveKeys.KeyLeases(hold.Key.KeyId));
            args.Add(hold.RequestId);
        }
        if (keys.Count > 0) await LiveScripts.Renew.EvaluateAsync(db, keys.ToArray(), args.ToArray(), _redis.CallTimeout);
        if (rebuild) Volatile.Write(ref _rebuiltAfter, losses);
    }

    private static partial class Log
    {
        [LoggerMessage(10, LogLevel.Warning, "Redis admission failed ({Error}); admitted with process-local counts")]
        public static partial void Fallback(ILogger logger, string error);

        [LoggerMessage(11, LogLevel.Warning, "Redis settle of {Count} requests failed ({Error}); their leases will expire on their own")]
        public static partial void SettleFailed(ILogger logger, int count, string error);

        [LoggerMessage(12, LogLevel.Information, "Redis answered {Count} admissions after they had timed out (redis_timeout); their leases and counts were given back")]
        public static partial void LateAnswer(ILogger logger, int count);

        [LoggerMessage(14, LogLevel.Warning, "Redis lost its state (restarted without persistence or flushed): live leases are re-added, key counters rebuilt from recorded usage, spares dropped")]
        public static partial void StateLost(ILogger logger);

        [LoggerMessage(13, LogLevel.Information, "Redis answers again: {Count} keys counted in this process meanwhile are re-seeded from recorded usage in {Seconds} s")]
        public static partial void Reseeding(ILogger logger, int count, double seconds);
    }
}

internal readonly record struct SpareCounts(long Used, long Released, int Waiting, int Taking);
