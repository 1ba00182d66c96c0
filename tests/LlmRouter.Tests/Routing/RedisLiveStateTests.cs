using LlmRouter.Configuration;
using LlmRouter.LiveState;
using LlmRouter.Tests.Services;
using LlmRouter.Tests.Usage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;

namespace LlmRouter.Tests.Routing;

/// <summary>One private redis-server for the Redis live-state tests.</summary>
public sealed class RedisFixture : IAsyncLifetime
{
    public RedisServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}

/// <summary>The same contract through the Lua scripts on a real Redis, plus what only shared state has to survive.</summary>
public sealed class RedisLiveStateTests : LiveStateContract, IClassFixture<RedisFixture>, IAsyncLifetime
{
    private readonly RedisFixture _redis;
    private RedisConnection _connection = null!;
    private RedisLiveState _state = null!;

    public RedisLiveStateTests(RedisFixture redis) => _redis = redis;

    private readonly ListLogger<RedisLiveState> _log = new();

    private protected override ILiveState State => _state;
    private protected override IReadOnlyCollection<string> Logged => _log.Messages;

    public async Task InitializeAsync()
    {
        (_connection, _state) = await ConnectAsync(_redis.Server, _log);
    }

    private static async Task<(RedisConnection, RedisLiveState)> ConnectAsync(RedisServer server, ILogger<RedisLiveState>? logger = null,
        TimeProvider? time = null, TimeSpan? settleWait = null, TimeSpan? callTimeout = null)
    {
        // The counts these tests check are Redis's, and a request whose call outlives redis_timeout counts locally
        // instead: the longest timeout unless a test is about it, so a loaded machine's stalls do not change them.
        var general = new GeneralSettings { RedisUrl = $"redis://{server.Url}", RedisTimeout = callTimeout ?? GeneralSettings.MaxRedisTimeout };
        var connection = new RedisConnection(general, NullLogger<RedisConnection>.Instance);
        await connection.StartAsync();
        Assert.True(connection.IsConnected, "the test Redis should be reachable");
        return (connection, new RedisLiveState(connection, new LocalLiveState(), logger ?? NullLogger<RedisLiveState>.Instance,
            time: time, settleWait: settleWait));
    }

    public async Task DisposeAsync() => await _connection.DisposeAsync();

    [Fact]
    public async Task Admit_TwoReplicas_ShareOneCount()
    {
        var (other, otherState) = await ConnectAsync(_redis.Server);
        await using var _ = other;
        var only = new[] { Dep(Id("shared"), maxParallel: 1) };

        Assert.Equal(AdmissionStatus.Admitted, (await AdmitAsync(only)).Status);
        var fromOther = await otherState.AdmitAsync(new AdmissionRequest
        {
            LeaseId = "x", RequestId = "y", Candidates = only, LeastBusy = true, Now = Clock.GetUtcNow(), LeaseTtl = TimeSpan.FromSeconds(15),
        });
        Assert.Equal(AdmissionStatus.Busy, fromOther.Status);
        Assert.True(_state.IsShared);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Replicas_EachCountsItselfEveryHeartbeat_OneThatStopsDropsOut(bool cleanly)
    {
        var ttl = TimeSpan.FromSeconds(15);
        var (other, otherState) = await ConnectAsync(_redis.Server);
        await using var _ = other;
        await other.Database!.KeyDeleteAsync(LiveKeys.Replicas);
        Assert.Equal(1, _state.Replicas);

        await _state.CountReplicasAsync(Clock.GetUtcNow(), ttl);
        await otherState.CountReplicasAsync(Clock.GetUtcNow(), ttl);
        Assert.Equal(2, otherState.Replicas);
        await _state.CountReplicasAsync(Clock.GetUtcNow(), ttl);
        Assert.Equal(2, _state.Replicas);

        if (cleanly)
        {
            // It leaves as it stops: at once, with no time passing, so only the leave can have taken it out.
            await otherState.LeaveReplicasAsync();
        }
        else
        {
            // It stops beating (it crashed): a lease TTL later it no longer counts.
            Clock.Advance(ttl + TimeSpan.FromSeconds(1));
        }
        await _state.CountReplicasAsync(Clock.GetUtcNow(), ttl);
        Assert.Equal(1, _state.Replicas);
    }

    [Fact]
    public async Task Lease_NotRenewed_VanishesAfterItsTtl()
    {
        // A replica that crashed holds a slot it never settles or renews.
        var only = new[] { Dep(Id("crash"), maxParallel: 1) };
        await AdmitAsync(only);
        Assert.Equal(AdmissionStatus.Busy, (await AdmitAsync(only)).Status);

        Clock.Advance(TimeSpan.FromSeconds(16));
        Assert.Equal(AdmissionStatus.Admitted, (await AdmitAsync(only)).Status);
    }

    [Fact]
    public async Task Lease_Renewed_OutlivesItsTtl()
    {
        var only = new[] { Dep(Id("renewed"), maxParallel: 1) };
        await AdmitAsync(only);
        Clock.Advance(TimeSpan.FromSeconds(10));
        await _state.RenewAsync(Clock.GetUtcNow(), TimeSpan.FromSeconds(15), rebuild: false);
        Clock.Advance(TimeSpan.FromSeconds(10));

        Assert.Equal(AdmissionStatus.Busy, (await AdmitAsync(only)).Status);
    }

    [Fact]
    public async Task Leases_ManyInOneSet_AllRenewed()
    {
        // 5,000 streams on one deployment: more than one command can take in a script (Lua unpacks about 8,000 values at
        // most), so the renewal goes in parts.
        var only = new[] { Dep(Id("many"), maxParallel: 5_000) };
        var admitted = await Task.WhenAll(Enumerable.Range(0, 5_000).Select(_ => Task.Run(() => AdmitOnceAsync(only))));
        Assert.All(admitted, r => Assert.Equal(AdmissionStatus.Admitted, r.Status));
        Clock.Advance(TimeSpan.FromSeconds(10));
        await _state.RenewAsync(Clock.GetUtcNow(), TimeSpan.FromSeconds(15), rebuild: false);
        Clock.Advance(TimeSpan.FromSeconds(10));

        // Past their first expiry every one still holds its slot.
        Assert.Equal(AdmissionStatus.Busy, (await AdmitAsync(only)).Status);
        await SettleAsync(admitted[0]);
        var last = await AdmitAsync(only);
        Assert.Equal(AdmissionStatus.Admitted, last.Status);
        Assert.Equal(4_999, last.Stats[only[0].Id].InFlight);
    }

    [Fact]
    public async Task Admit_RoundTrips_OnePerAdmissionOnePerSettle()
    {
        var deployments = new[] { Dep(Id("a")), Dep(Id("b")) };
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), RpmLimit = 10, TpmLimit = 1000, ReserveTokens = 5 };
        // The key's first request in a period seeds its counters (once); what counts is every request after that.
        await SettleAsync(await AdmitAsync(deployments, key: key), tokens: 3);
        var before = _state.RoundTrips;
        var admitted = await AdmitAsync(deployments, key: key);
        await SettleAsync(admitted, tokens: 3);

        Assert.Equal(2, _state.RoundTrips - before);
    }

    [Fact]
    public async Task Settle_OfAQuietRequest_RidesWithTheNextAdmission_OneRoundTripEach()
    {
        // One deployment and no limit that reads in-flight counts: no admission reads what a request counts while it runs.
        // A settle then waits (here as long as the test needs) for the next admission call and goes out just ahead of it.
        var (connection, state) = await ConnectAsync(_redis.Server, time: Clock, settleWait: TimeSpan.FromMinutes(1));
        await using var _ = connection;
        using var disposeState = state;
        var only = new[] { Dep(Id("quiet")) };
        var first = await Admit(state, only, key: null);
        var before = state.RoundTrips;

        var settled = state.SettleAsync(new SettleRequest { Lease = first.Lease, Now = Clock.GetUtcNow(), AllowedFails = 3, FailureWindow = TimeSpan.FromMinutes(1), CooldownTime = TimeSpan.FromSeconds(30) });
        Assert.Equal(before, state.RoundTrips);
        Assert.False(settled.IsCompleted);
        var second = await Admit(state, only, key: null);
        await settled;

        // One round trip for the settle and the admission, and Redis released the first request before it admitted the second.
        Assert.Equal(before + 1, state.RoundTrips);
        Assert.Equal(0, second.Stats[only[0].Id].InFlight);
    }

    [Fact]
    public async Task Settle_OfAQuietRequest_WithNoAdmissionAfterIt_LandsWithinItsWait()
    {
        var only = new[] { Dep(Id("alone")) };
        var first = await AdmitAsync(only);
        var before = _state.RoundTrips;

        await SettleAsync(first).WaitAsync(TimeSpan.FromSeconds(10));

        Assert.Equal(before + 1, _state.RoundTrips);
        Assert.Equal(0, (await AdmitAsync(only)).Stats[only[0].Id].InFlight);
    }

    [Fact]
    public async Task Settle_Failed_GoesAtOnce_NotWaitingToRide()
    {
        var only = new[] { Dep(Id("failing")) };
        var first = await AdmitAsync(only);
        var before = _state.RoundTrips;

        // Counted toward a cooldown now: its own call starts before SettleAsync returns.
        var settled = SettleAsync(first, failed: true);
        Assert.Equal(before + 1, _state.RoundTrips);
        await settled;
    }

    /// <summary>
    /// A key allowing 1,000 requests and 1,000,000 tokens a minute, reserving 10 tokens a request, after its first request
    /// (7 tokens), which seeded it and created this minute's counters.
    /// </summary>
    private async Task<KeyAdmission> KeyWithRpmAndTpmAsync(Deployment[] only)
    {
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), RpmLimit = 1_000, TpmLimit = 1_000_000, ReserveTokens = 10 };
        await SettleAsync(await AdmitAsync(only, key: key), tokens: 7);
        return key;
    }

    [Fact]
    public async Task AdmitAndSettle_KeyWithRpmAndTpm_RedisRunsThirteenCommands()
    {
        var only = new[] { Dep(Id("a")) };
        var key = await KeyWithRpmAndTpmAsync(only);
        var before = await _redis.Server.CommandCallsAsync();

        await SettleAsync(await AdmitAsync(only, key: key), tokens: 7);

        // Redis's work per request is mostly its commands: admission reads the key's and the deployment's counters
        // (2 MGET) and in-flight count (ZCOUNT), adds the lease (ZADD, PEXPIRE) and counts the request and its reserve
        // (4 INCRBY); the settle removes the lease (ZREM) and corrects the token counts (3 INCRBY). Nothing is kept
        // that nothing reads: no backend set without a per-backend limit, no key set without a parallel limit, no time to
        // first token without latency-based routing.
        var after = await _redis.Server.CommandCallsAsync();
        var made = after.Select(c => (c.Key, Calls: c.Value - before.GetValueOrDefault(c.Key))).Where(c => c.Calls > 0).ToList();
        Assert.True(made.Sum(c => c.Calls) == 13, string.Join(", ", made.Select(c => $"{c.Key} {c.Calls}")));
    }

    [Fact]
    public async Task AdmitAndSettle_ManyInOneCall_EachCountedInOrder_RedisRunsItsCommandsOncePerCallNotPerRequest()
    {
        var only = new[] { Dep(Id("batched")) };
        var key = await KeyWithRpmAndTpmAsync(only);
        var before = await _redis.Server.CommandCallsAsync();
        var calls = _state.RoundTrips;

        var admitted = await Task.WhenAll(Enumerable.Range(0, 32).Select(_ => Task.Run(() => AdmitOnceAsync(only, key: key))));
        await Task.WhenAll(admitted.Select(r => Task.Run(() => SettleAsync(r, tokens: 7))));

        // Each request in a call sees those before it: the key's 2nd to 33rd requests of the minute, each told what is left.
        Assert.All(admitted, r => Assert.Equal(AdmissionStatus.Admitted, r.Status));
        Assert.Equal(Enumerable.Range(2, 32).Select(n => 1_000L - n), admitted.Select(r => r.RemainingRequests!.Value).OrderDescending());
        // One at a time a request runs 13 commands (above). Sharing calls, the requests of a call share them: each
        // counter is read and written once per call, each lease set gets one ZADD and one ZREM.
        var after = await _redis.Server.CommandCallsAsync();
        var commands = after.Sum(c => c.Value - before.GetValueOrDefault(c.Key));
        var scriptCalls = _state.RoundTrips - calls;
        Assert.True(scriptCalls < 32, $"{scriptCalls} script calls for 32 admissions and 32 settles that came together");
        Assert.True(commands < 32 * 13 / 2, $"{commands} commands in {scriptCalls} script calls for 32 requests");

        // Counted exactly: no lease left, 33 requests and 33 × 7 tokens this minute, besides the next one's own.
        var next = await AdmitAsync(only, key: key);
        Assert.Equal(0, next.Stats[only[0].Id].InFlight);
        Assert.Equal(1_000 - 34, next.RemainingRequests);
        Assert.Equal(1_000_000 - 33 * 7 - 10, next.RemainingTokens);
    }

    [Fact]
    public async Task SparesTakenTogether_GoAsOneAdmissionWithTheirIds_EachItsOwnSlotAndCount()
    {
        var only = new[] { Dep(Id("together")) };
        var key = await KeyWithRpmAndTpmAsync(only);
        const int Spares = 8;

        // The same admission eight times, as the spares' refill takes them: once as eight admissions of their own,
        // once as the first with the other seven after it (SameAs).
        var apart = await SendSparesAsync(only, key, together: false);
        var together = await SendSparesAsync(only, key, together: true);

        // Each spare is admitted on its own slot with its own lease, and counted for the key, however it was sent.
        foreach (var results in new[] { apart.Results, together.Results })
        {
            Assert.All(results, r => Assert.Equal(AdmissionStatus.Admitted, r.Status));
            Assert.Equal(Spares, results.Select(r => r.Lease!.Id).Distinct().Count());
        }
        Assert.Equal(Enumerable.Range(2 + Spares, Spares).Select(n => 1_000L - n), together.Results.Select(r => r.RemainingRequests!.Value).OrderDescending());
        var next = await AdmitAsync(only, key: key);
        Assert.Equal(2 * Spares, next.Stats[only[0].Id].InFlight);
        Assert.Equal(1_000 - 2 - 2 * Spares, next.RemainingRequests);
        // Sent together, Redis reads the admission once and the others' ids: well under half the bytes.
        Assert.True(together.Bytes * 2 < apart.Bytes, $"{together.Bytes} bytes together, {apart.Bytes} apart");

        async Task<(AdmissionResult[] Results, long Bytes)> SendSparesAsync(Deployment[] candidates, KeyAdmission admitting, bool together)
        {
            var first = new AdmissionRequest
            {
                LeaseId = Guid.NewGuid().ToString("N"), RequestId = Guid.NewGuid().ToString("N"), Candidates = candidates,
                Key = admitting, Now = Clock.GetUtcNow(), LeaseTtl = TimeSpan.FromSeconds(15),
            };
            var requests = Enumerable.Range(0, Spares).Select(i => i == 0 ? first : first with
            {
                LeaseId = Guid.NewGuid().ToString("N"), RequestId = Guid.NewGuid().ToString("N"), SameAs = together ? first : null,
            }).ToList();
            var before = await _redis.Server.InputBytesAsync();
            var results = await Task.WhenAll(_state.AdmitSpares(requests));
            return (results, await _redis.Server.InputBytesAsync() - before);
        }
    }

    [Fact]
    public async Task AdmissionsAndSparesTakenTogether_InCallsSplitAtTheBatchSize_EachGetsItsOwnReply()
    {
        // An ordinary admission over two deployments, 150 spares taken together, another ordinary one, 20 more spares:
        // more than one call holds (128), so a group of spares is split between calls.
        var a = Dep(Id("mixed-a"));
        var b = Dep(Id("mixed-b"));
        var key = await KeyWithRpmAndTpmAsync([a]);
        var requests = new List<AdmissionRequest> { Request([a, b]) };
        requests.AddRange(Together(Request([a]), 150));
        requests.Add(Request([b, a]));
        requests.AddRange(Together(Request([b]), 20));

        var results = await Task.WhenAll(_state.AdmitSpares(requests));

        Assert.All(results, r => Assert.Equal(AdmissionStatus.Admitted, r.Status));
        Assert.Equal(requests.Count, results.Select(r => r.Lease!.Id).Distinct().Count());
        Assert.All(results.Skip(1).Take(150), r => Assert.Equal(a.Id, r.Deployment!.Id));
        Assert.All(results.TakeLast(20), r => Assert.Equal(b.Id, r.Deployment!.Id));
        // Each counted once for the key, in turn: the key's 2nd to 173rd requests of the minute.
        Assert.Equal(Enumerable.Range(2, requests.Count).Select(n => 1_000L - n), results.Select(r => r.RemainingRequests!.Value).OrderDescending());
        var next = await AdmitAsync([a, b], key: key);
        Assert.Equal(requests.Count, next.Stats[a.Id].InFlight + next.Stats[b.Id].InFlight);

        AdmissionRequest Request(Deployment[] candidates) => new()
        {
            LeaseId = Guid.NewGuid().ToString("N"), RequestId = Guid.NewGuid().ToString("N"), Candidates = candidates,
            LeastBusy = true, Key = key, Now = Clock.GetUtcNow(), LeaseTtl = TimeSpan.FromSeconds(15),
        };

        static IEnumerable<AdmissionRequest> Together(AdmissionRequest first, int count) =>
            Enumerable.Range(0, count).Select(i => i == 0 ? first : first with
            {
                LeaseId = Guid.NewGuid().ToString("N"), RequestId = Guid.NewGuid().ToString("N"), SameAs = first,
            });
    }

    [Fact]
    public async Task Settles_InOneCall_SomeSharingTheirKeys_EachLandsOnItsOwnDeployment()
    {
        // Quiet settles wait to ride with the next admission (here as long as the test needs), so four go in one call:
        // two of deployment A in a row (their keys sent once), one of B, one of A again.
        var (connection, state) = await ConnectAsync(_redis.Server, time: Clock, settleWait: TimeSpan.FromMinutes(1));
        await using var _ = connection;
        using var disposeState = state;
        var a = Dep(Id("settle-a"));
        var b = Dep(Id("settle-b"));
        var admitted = new List<(AdmissionResult Admitted, long Tokens)>();
        foreach (var (deployment, tokens) in new[] { (a, 5L), (a, 6L), (b, 7L), (a, 8L) })
            admitted.Add((await Admit(state, [deployment], key: null), tokens));
        var before = state.RoundTrips;

        var settles = admitted.Select(x => state.SettleAsync(new SettleRequest
        {
            Lease = x.Admitted.Lease, Now = Clock.GetUtcNow(), ActualTokens = x.Tokens,
            AllowedFails = 3, FailureWindow = TimeSpan.FromMinutes(1), CooldownTime = TimeSpan.FromSeconds(30),
        })).ToList();
        var next = await Admit(state, [a, b], key: null);
        await Task.WhenAll(settles);

        // One round trip for the four settles and the admission; each slot given back and each token count on its own deployment.
        Assert.Equal(before + 1, state.RoundTrips);
        Assert.Equal(0, next.Stats[a.Id].InFlight);
        Assert.Equal(0, next.Stats[b.Id].InFlight);
        Assert.Equal(5 + 6 + 8, next.Stats[a.Id].TokensThisMinute);
        Assert.Equal(7, next.Stats[b.Id].TokensThisMinute);
    }

    [Fact]
    public async Task Settle_RefundsAfterRedisLostTheReservation_InOneCall_EndAsIfAppliedOneAfterAnother()
    {
        // Two settles of one key in one call, with nothing left of their reservations (Redis restarted): the first
        // gives back 900 tokens it had reserved, the second counts 200 more than it had. One after another the first
        // stops at zero and the second counts its 200; the call writes each counter once and must end the same.
        var keyId = Guid.NewGuid();
        RedisKey tpm = $"test:tpm:{keyId}", quota = $"test:quota:{keyId}", budget = $"test:budget:{keyId}";
        RedisKey[] Keys() => ["test:l", "test:bl", "test:kl", tpm, quota, budget, "test:dtpm", "test:f", "test:c", "test:t", "test:krpm", "test:drpm"];
        // The second has the first's keys: sent once (its last argument 0), as the router sends settles of one key.
        RedisValue[] Args(long delta, int ownKeys) => ["", 1, delta, 0, 0, 0, 0, 3, 60_000, 30_000, -1, "", 0, 0, ownKeys];
        var db = _connection.Database!;

        await LiveScripts.Settle.EvaluateAsync(db, Keys(), [.. Args(-900, ownKeys: 1), .. Args(200, ownKeys: 0)], _connection.CallTimeout);

        Assert.Equal(200, (long)await db.StringGetAsync(tpm));
        Assert.Equal(200, (long)await db.StringGetAsync(quota));
        // The tpm counter is a minute's, created by this call: it expires.
        Assert.True(await db.KeyTimeToLiveAsync(tpm) is { } ttl && ttl > TimeSpan.Zero);
    }

    [Fact]
    public async Task Admit_ManyAtOnce_ShareScriptCalls_EachGetsItsOwnAnswer_LimitsHold()
    {
        var deployments = new[] { Dep(Id("a"), maxParallel: 6), Dep(Id("b"), maxParallel: 6) };
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), RpmLimit = 1000, MaxParallel = 10 };
        await SettleAsync(await AdmitAsync(deployments, key: key));
        var before = _state.RoundTrips;

        var results = await Task.WhenAll(Enumerable.Range(0, 40).Select(_ => Task.Run(() => AdmitOnceAsync(deployments, key: key))));
        var admitted = results.Where(r => r.Status == AdmissionStatus.Admitted).ToArray();

        // The key allows 10 in flight: exactly 10 get a slot, spread over both deployments, each its own lease.
        Assert.Equal(10, admitted.Length);
        Assert.All(results.Except(admitted), r => Assert.Equal(AdmissionStatus.KeyParallelLimited, r.Status));
        Assert.Equal(10, admitted.Select(r => r.Lease!.Id).Distinct().Count());
        Assert.All(deployments, d => Assert.InRange(admitted.Count(r => r.Deployment!.Id == d.Id), 4, 6));
        Assert.True(_state.RoundTrips - before < 40, $"{_state.RoundTrips - before} script calls for 40 admissions that arrived together");

        await Task.WhenAll(admitted.Select(r => Task.Run(() => SettleAsync(r))));
        var again = await Task.WhenAll(Enumerable.Range(0, 10).Select(_ => AdmitOnceAsync(deployments, key: key)));
        Assert.All(again, r => Assert.Equal(AdmissionStatus.Admitted, r.Status));
    }

    [Fact]
    public async Task Admit_ReservationLeavingTooLittleForAnotherLikeIt_IsNearLimit()
    {
        var only = new[] { Dep(Id("near")) };
        var quota = new KeyAdmission { KeyId = Guid.NewGuid(), QuotaLimit = 100, ReserveTokens = 30 };
        var tpm = new KeyAdmission { KeyId = Guid.NewGuid(), TpmLimit = 100, ReserveTokens = 30 };

        // 30, 60, 90 of 100 reserved: after the third, 10 left would not hold another 30.
        foreach (var key in new[] { quota, tpm })
        {
            var near = new List<bool>();
            for (var i = 0; i < 3; i++) near.Add((await AdmitAsync(only, key: key)).KeyHold!.NearLimit);
            Assert.Equal([false, false, true], near);
        }
        var unlimited = new KeyAdmission { KeyId = Guid.NewGuid(), RpmLimit = 1000, ReserveTokens = 30 };
        Assert.False((await AdmitAsync(only, key: unlimited)).KeyHold!.NearLimit);
    }

    [Fact]
    public async Task Redis_Unreachable_FallsBackToLocalCounts()
    {
        var server = await RedisServer.StartAsync();
        var (connection, state) = await ConnectAsync(server);
        await using var _ = connection;
        await server.StopAsync();
        await Eventually(() => !connection.IsConnected, "the connection to notice Redis is gone");

        var admitted = await state.AdmitAsync(new AdmissionRequest
        {
            LeaseId = "l", RequestId = "r", Candidates = [Dep(Id("fallback"))], LeastBusy = true, Now = Clock.GetUtcNow(), LeaseTtl = TimeSpan.FromSeconds(15),
        });
        Assert.Equal(AdmissionStatus.Admitted, admitted.Status);
        Assert.False(admitted.Lease!.Shared);
        Assert.False(state.IsShared);
    }

    [Fact]
    public async Task FirstCall_TimedOut_FallsBackForThatRequestOnly_RedisAskedAgainAtOnce()
    {
        var server = await RedisServer.StartAsync();
        await using var stopServer = server;
        var (connection, state) = await ConnectAsync(server, callTimeout: new GeneralSettings().RedisTimeout);
        await using var _ = connection;
        var only = new[] { Dep(Id("cold")) };

        // The replica's very first admission gets no answer within the call timeout.
        var first = await server.WhileFrozenAsync(() => Admit(state, only, key: null));
        Assert.False(first.Lease!.Shared);

        // Redis has never answered this replica, so that is no sign it is stuck: the next request asks it again.
        Assert.True(state.IsShared);
        Assert.True((await Admit(state, only, key: null)).Lease!.Shared);
    }

    [Fact]
    public async Task CallTimedOut_AfterRedisHadAnswered_NextRequestsCountLocallyForAWhile()
    {
        var server = await RedisServer.StartAsync();
        await using var stopServer = server;
        var (connection, state) = await ConnectAsync(server, callTimeout: new GeneralSettings().RedisTimeout);
        await using var _ = connection;
        var only = new[] { Dep(Id("stuck")) };
        Assert.True((await Admit(state, only, key: null)).Lease!.Shared);

        Assert.False((await server.WhileFrozenAsync(() => Admit(state, only, key: null))).Lease!.Shared);

        // A Redis that answered before and then did not is treated as stuck: requests do not wait for it meanwhile.
        Assert.False(state.IsShared);
        Assert.False((await Admit(state, only, key: null)).Lease!.Shared);
    }

    [Fact]
    public async Task RedisBack_AKeyCountedLocallyMeanwhile_IsReseededFromRecordedUsageShortlyAfter()
    {
        var server = await RedisServer.StartAsync();
        await using var stopServer = server;
        var (connection, state) = await ConnectAsync(server, time: Clock, callTimeout: new GeneralSettings().RedisTimeout);
        await using var _ = connection;
        var only = new[] { Dep(Id("outage")) };
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), QuotaLimit = 1000, ReserveTokens = 10 };
        Assert.True((await Admit(state, only, key)).Lease!.Shared);

        // Redis stuck: this request is counted in the process only, and Redis's counters never see it.
        Assert.False((await server.WhileFrozenAsync(() => Admit(state, only, key))).Lease!.Shared);
        Clock.Advance(TimeSpan.FromSeconds(6));
        // Redis answers again (the connection may take a moment to come back from the freeze).
        await EventuallyAsync(async () => (await Admit(state, only, key)).Lease!.Shared, "an admission through Redis again");

        // So once the usage writer has had time to record it, the key's next admission asks for recorded usage again.
        var db = connection.Database!;
        var marker = LiveKeys.KeySeeded(key.KeyId, key.QuotaBucket);
        await EventuallyAsync(async () => (long)await db.StringGetAsync(marker) <= (Clock.GetUtcNow() + RedisLiveState.ReseedAfterOutage).ToUnixTimeMilliseconds(),
            "the key's seeded marker to be brought forward");
        Clock.Advance(RedisLiveState.ReseedAfterOutage + TimeSpan.FromSeconds(1));
        var next = await state.AdmitAsync(new AdmissionRequest
        {
            LeaseId = Guid.NewGuid().ToString("N"), RequestId = Guid.NewGuid().ToString("N"), Candidates = only, LeastBusy = true,
            Key = key, Now = Clock.GetUtcNow(), LeaseTtl = TimeSpan.FromSeconds(15),
        });
        Assert.Equal(AdmissionStatus.KeyNeedsSeed, next.Status);
    }

    [Fact]
    public async Task CallTimedOut_RedisRunsItLater_WhatItAdmittedThereIsGivenBack()
    {
        var server = await RedisServer.StartAsync();
        await using var stopServer = server;
        var (connection, state) = await ConnectAsync(server, callTimeout: new GeneralSettings().RedisTimeout);
        await using var _ = connection;
        var only = new[] { Dep(Id("late")) };
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), RpmLimit = 100, ReserveTokens = 10 };
        var first = await Admit(state, only, key);
        Assert.True(first.Lease!.Shared);
        await SettleDoneAsync(state, first);

        // Frozen past the call timeout: the request counts locally, while its admission waits in Redis's socket.
        Assert.False((await server.WhileFrozenAsync(() => Admit(state, only, key))).Lease!.Shared);

        // Redis runs the admission on waking and answers late. Kept, it would hold a lease no request uses and count a
        // request the key never made: both are given back, and only the first request stays counted.
        await OnlyTheFirstStaysCountedAsync(connection, only[0], key, "the late admission's lease and request count to be given back");
    }

    [Fact]
    public async Task CallTimedOut_SparesTakenTogether_EveryOneRedisAdmittedLaterIsGivenBack()
    {
        var server = await RedisServer.StartAsync();
        await using var stopServer = server;
        var (connection, state) = await ConnectAsync(server, callTimeout: new GeneralSettings().RedisTimeout);
        await using var _ = connection;
        var only = new[] { Dep(Id("late-spares")) };
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), RpmLimit = 100, ReserveTokens = 10 };
        var first = await Admit(state, only, key);
        await SettleDoneAsync(state, first);
        // Five spares taken together: one admission's arguments and four more ids in the same call.
        var lead = new AdmissionRequest
        {
            LeaseId = Guid.NewGuid().ToString("N"), RequestId = Guid.NewGuid().ToString("N"), Candidates = only,
            Key = key, Now = Clock.GetUtcNow(), LeaseTtl = TimeSpan.FromSeconds(15),
        };
        var spares = Enumerable.Range(0, 5).Select(i => i == 0 ? lead : lead with
        {
            LeaseId = Guid.NewGuid().ToString("N"), RequestId = Guid.NewGuid().ToString("N"), SameAs = lead,
        }).ToList();

        // Frozen past the call timeout: the spares are not taken here, while their call waits in Redis's socket.
        var taken = await server.WhileFrozenAsync(async () =>
        {
            var results = state.AdmitSpares(spares);
            await Task.WhenAny(Task.WhenAll(results));
            return results;
        });
        Assert.All(taken, t => Assert.IsType<RedisCallTimeoutException>(t.Exception?.InnerException));

        // Redis admits all five on waking and answers late: each lease and each request count is given back, and only
        // the first request stays counted.
        await OnlyTheFirstStaysCountedAsync(connection, only[0], key, "every late spare's lease and request count to be given back");
    }

    private Task SettleDoneAsync(RedisLiveState state, AdmissionResult admitted) => state.SettleAsync(new SettleRequest
    {
        Lease = admitted.Lease, KeyHold = admitted.KeyHold, Now = Clock.GetUtcNow(), AllowedFails = 3,
        FailureWindow = TimeSpan.FromMinutes(1), CooldownTime = TimeSpan.FromSeconds(30),
    });

    /// <summary>What Redis admitted late is given back: no lease left on the deployment, and the key counts its first request only.</summary>
    private Task OnlyTheFirstStaysCountedAsync(RedisConnection connection, Deployment deployment, KeyAdmission key, string what)
    {
        var minute = TimeBuckets.Minute(Clock.GetUtcNow());
        return EventuallyAsync(async () => connection.Database is { } db
            && await db.SortedSetLengthAsync(LiveKeys.DeploymentLeases(deployment.Id)) == 0
            && (long)await db.StringGetAsync(LiveKeys.KeyRequests(key.KeyId, minute)) == 1, what);
    }

    [Fact]
    public async Task RedisTimeout_Configured_ACallWaitsThatLongBeforeFallingBack()
    {
        var server = await RedisServer.StartAsync();
        await using var stopServer = server;
        // The largest redis_timeout the config takes, where the default is 1 s.
        var (connection, state) = await ConnectAsync(server, callTimeout: GeneralSettings.MaxRedisTimeout);
        await using var _ = connection;
        var only = new[] { Dep(Id("patient")) };
        Assert.True((await Admit(state, only, key: null)).Lease!.Shared);

        // Frozen for twice the default timeout: with the default the request would have counted locally by then.
        var admitting = await server.WhileFrozenAsync(async () =>
        {
            var admission = Admit(state, only, key: null);
            await Task.Delay(new GeneralSettings().RedisTimeout * 2);
            Assert.False(admission.IsCompleted, "the admission should still be waiting for Redis");
            return admission;
        });

        Assert.True((await admitting).Lease!.Shared);
        Assert.True(state.IsShared);
    }

    [Fact]
    public async Task Redis_RestartedWithoutState_RebuildsFromLiveLeasesAndNeverGoesNegative()
    {
        var server = await RedisServer.StartAsync();
        var (connection, state) = await ConnectAsync(server);
        await using var _ = connection;
        var only = new[] { Dep(Id("rebuild"), maxParallel: 1) };
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), QuotaLimit = 1000, ReserveTokens = 500 };
        var held = await Admit(state, only, key);
        Assert.Equal(AdmissionStatus.Admitted, held.Status);

        await server.StopAsync();
        await server.StartAgainAsync();
        await Eventually(() => connection.IsConnected, "the connection to come back");
        // Redis came back empty: the slot looks free until the heartbeat re-adds the live lease. The multiplexer may
        // report "connected" a moment before it serves commands; the heartbeat simply beats again, and so does this.
        await EventuallyAsync(async () =>
        {
            try
            {
                await state.RenewAsync(Clock.GetUtcNow(), TimeSpan.FromSeconds(15), rebuild: true);
                return true;
            }
            catch (RedisConnectionException)
            {
                return false;
            }
        }, "the heartbeat to re-add the live lease");
        Assert.Equal(AdmissionStatus.Busy, (await Admit(state, only, null)).Status);

        // The reservation Redis forgot is corrected without driving the quota below zero.
        await state.SettleAsync(new SettleRequest
        {
            Lease = held.Lease, KeyHold = held.KeyHold, Now = Clock.GetUtcNow(), ActualTokens = 10,
            AllowedFails = 3, FailureWindow = TimeSpan.FromSeconds(60), CooldownTime = TimeSpan.FromSeconds(30),
        });
        var db = ConnectionMultiplexer.Connect(server.Url).GetDatabase();
        var quota = (long)db.StringGet(LiveKeys.KeyQuota(key.KeyId, key.QuotaBucket));
        Assert.True(quota >= 0, $"quota counter went negative: {quota}");
        Assert.Equal(AdmissionStatus.Admitted, (await Admit(state, only, null)).Status);
        await server.DisposeAsync();
    }

    private async Task<AdmissionResult> Admit(RedisLiveState state, Deployment[] candidates, KeyAdmission? key)
    {
        ValueTask<AdmissionResult> Once() => state.AdmitAsync(new AdmissionRequest
        {
            LeaseId = Guid.NewGuid().ToString("N"), RequestId = Guid.NewGuid().ToString("N"), Candidates = candidates, LeastBusy = true,
            Key = key, Now = Clock.GetUtcNow(), LeaseTtl = TimeSpan.FromSeconds(15), WantsStats = true,
        });
        var result = await Once();
        if (result.Status != AdmissionStatus.KeyNeedsSeed) return result;
        await state.SeedAsync(key!, default, Clock.GetUtcNow());
        return await Once();
    }

    private static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited 20 s for {what}");
            await Task.Delay(50);
        }
    }

    private static async Task Eventually(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"waited 20 s for {what}");
            await Task.Delay(50);
        }
    }
}
