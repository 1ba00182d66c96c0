using LlmRouter.Configuration;
using LlmRouter.LiveState;
using LlmRouter.Tests.Services;
using LlmRouter.Tests.Usage;
using Microsoft.Extensions.Logging.Abstractions;
using StackExchange.Redis;
using Eventually = LlmRouter.Tests.Infrastructure.Eventually;

namespace LlmRouter.Tests.Routing;

/// <summary>
/// Admissions taken ahead for requests that come back to back, on a real Redis: a request takes the spare instead of
/// waiting for Redis, and whatever a spare counted is given back when no request uses it, so every count ends exact.
/// </summary>
public sealed class SpareAdmissionTests : IClassFixture<RedisFixture>, IAsyncLifetime
{
    private static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(15);
    private readonly RedisFixture _redis;
    private readonly FakeTimeProvider _clock = new();
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
    private readonly ListLogger<RedisLiveState> _log = new();
    private RedisConnection _connection = null!;
    private RedisLiveState _state = null!;
    private IDatabase _db = null!;

    public SpareAdmissionTests(RedisFixture redis) => _redis = redis;

    public async Task InitializeAsync()
    {
        // A request whose call outlives the timeout is counted locally instead (and what Redis admits late is given
        // back), and the counts here must be Redis's: allow for a loaded machine's stalls (the likeliest cause of a
        // count a CI run once found off, with the default 1 s).
        var general = new GeneralSettings { RedisUrl = $"redis://{_redis.Server.Url}", RedisTimeout = GeneralSettings.MaxRedisTimeout };
        _connection = new RedisConnection(general, NullLogger<RedisConnection>.Instance);
        await _connection.StartAsync();
        Assert.True(_connection.IsConnected, "the test Redis should be reachable");
        _state = new RedisLiveState(_connection, new LocalLiveState(), _log, new RouterSettings(), _clock);
        _db = _connection.Database!;
    }

    public async Task DisposeAsync()
    {
        _state.Dispose();
        await _connection.DisposeAsync();
    }

    [Fact]
    public async Task RedisLosesItsState_WaitingSparesAreDropped_NeitherUsedUncountedNorGivenBack()
    {
        var deployments = new[] { Dep("a"), Dep("b") };
        var key = Key(rpm: 1_000, tpm: 1_000_000);
        Assert.False(await _state.CheckEpochAsync(), "a replica's first look finds nothing lost");
        await BackToBackUntilSparesAsync(deployments, key);
        var before = _state.Spares;
        Assert.True(before.Waiting > 0, "spares should be waiting");

        // Redis loses its state (the epoch key is what a replica notices it by; this key's request count goes with it).
        await _db.KeyDeleteAsync([LiveKeys.Epoch, LiveKeys.KeyRequests(key.KeyId, Minute)]);
        Assert.True(await _state.CheckEpochAsync(), "the loss should be noticed");

        // The spares counted only in the lost state are gone: not given back (that would take them off the rebuilt
        // counters), and the next request is counted in Redis instead of taking one.
        Assert.Equal(0, _state.Spares.Waiting);
        Assert.Equal(before.Released, _state.Spares.Released);
        var next = await AdmitAsync(deployments, key);
        Assert.Equal(AdmissionStatus.Admitted, next.Status);
        Assert.Equal(before.Used, _state.Spares.Used);
        Assert.True(await CounterAsync(LiveKeys.KeyRequests(key.KeyId, Minute)) >= 1, "the request should be counted in Redis");
    }

    [Fact]
    public async Task BackToBack_LaterRequestsTakeSpares_CountsEndExact()
    {
        var deployments = new[] { Dep("a"), Dep("b") };
        var key = Key(rpm: 1_000, tpm: 1_000_000);

        // Requests come back to back (the first one's admission, once its key is seeded, already does), so spares are
        // taken after them.
        var made = await BackToBackUntilSparesAsync(deployments, key);
        var waiting = _state.Spares.Waiting;
        Assert.Equal(made + waiting, await CounterAsync(LiveKeys.KeyRequests(key.KeyId, Minute)));
        var used = _state.Spares.Used;

        var third = await AdmitAsync(deployments, key);

        Assert.Equal(AdmissionStatus.Admitted, third.Status);
        Assert.Equal(used + 1, _state.Spares.Used);
        Assert.Contains(third.Deployment!.Id, deployments.Select(d => d.Id));
        // What the key has left is as counted when the spare was taken: after the first request at least, and at most
        // after both and every spare waiting.
        Assert.InRange(third.RemainingRequests!.Value, 1_000 - made - waiting, 1_000 - made);
        await SettleAsync(third, tokens: 7);

        // At shutdown the spares still waiting are given back: Redis counts the three requests, no more.
        await _state.ReleaseSparesAsync();
        Assert.Equal(0, _state.Spares.Waiting);
        await CountReachesAsync(LiveKeys.KeyRequests(key.KeyId, Minute), made + 1, "the key's request count to be exact");
        await CountReachesAsync(LiveKeys.KeyTokens(key.KeyId, Minute), 7 * (made + 1), "the key's token count to be the tokens used");
        Assert.Equal(made + 1, await CounterAsync(LiveKeys.DeploymentRequests(deployments[0].Id, Minute)) + await CounterAsync(LiveKeys.DeploymentRequests(deployments[1].Id, Minute)));
        foreach (var d in deployments) Assert.Equal(0, await _db.SortedSetLengthAsync(LiveKeys.DeploymentLeases(d.Id)));
    }

    [Theory]
    [InlineData(5, false)]
    [InlineData(30, true)]
    public async Task BackToBack_SparesAreTakenSeveralAtATime_AfterAnswers_MoreToACallWhenRequestsComeTogether(int tookMs, bool together)
    {
        // Only admission calls count here.
        SettlesOnlyRide();
        var deployments = new[] { Dep("a") };
        var key = Key(rpm: 100_000, tpm: 100_000_000);
        const int Requests = 100;
        const int Steady = Requests / 2;
        var before = _state.RoundTrips;
        var steadyFrom = 0L;
        var settles = new List<Task>();

        for (var i = 0; i < Requests; i++)
        {
            if (i == Requests - Steady) steadyFrom = _state.RoundTrips;
            // One request every 10 ms, each once the spares on their way have come.
            _clock.Advance(TimeSpan.FromMilliseconds(10));
            await UntilAsync(() => _state.Spares.Taking == 0, "the spares on their way");
            var admitted = await AdmitAsync(deployments, key);
            Assert.Equal(AdmissionStatus.Admitted, admitted.Status);
            // Not waited for: a settle rides with the next admission call. Each request took tookMs: under the 10 ms
            // between them, they came one after another; three times that, three at a time.
            settles.Add(SettleAsync(admitted, tokens: 7, took: TimeSpan.FromMilliseconds(tookMs)));
        }

        // Every request but the first found its admission taken ahead, and the replacements went several to a call,
        // sent once an answer was out (there was one call per request before). Once the key keeps its full number of
        // spares, one call serves up to MaxAhead - 2 requests when they come together (14 at this pace), and
        // MaxAheadAlone - 2 when they come one after another (six), so that a request alone waits less for Redis.
        Assert.Equal(Requests - 1, _state.Spares.Used);
        Assert.InRange(_state.RoundTrips - before, 4, Requests / 4);
        if (together) Assert.InRange(_state.RoundTrips - steadyFrom, 1, Steady / 10);
        else Assert.InRange(_state.RoundTrips - steadyFrom, Steady / 10 + 1, Steady / 5);
        Assert.InRange(_state.Spares.Waiting, 2, together ? SpareAdmissions.MaxAhead : SpareAdmissions.MaxAheadAlone);

        // Given back at shutdown: the releases and the settles still waiting to ride go when the state is disposed.
        await UntilAsync(() => _state.Spares.Taking == 0, "the spares on their way");
        var releasing = _state.ReleaseSparesAsync();
        _state.Dispose();
        await releasing;
        await Task.WhenAll(settles);
        await CountReachesAsync(LiveKeys.KeyRequests(key.KeyId, Minute), Requests, "the key's request count to be exact");
        await CountReachesAsync(LiveKeys.KeyTokens(key.KeyId, Minute), 7 * Requests, "the key's token count to be the tokens used");
        await UntilAsync(async () => await _db.SortedSetLengthAsync(LiveKeys.DeploymentLeases(deployments[0].Id)) == 0, "every slot to be given back");
    }

    [Fact]
    public async Task AcrossAMinutesEnd_FewSparesAreLeftOver_AndNearlyEveryRequestStillFindsOne()
    {
        SettlesOnlyRide();
        var deployments = new[] { Dep("a") };
        var key = Key(rpm: 100_000, tpm: 100_000_000);
        const int Requests = 120;
        // From 0.8 s before a minute's end to 0.4 s after it, one request every 10 ms, each taking 30 ms: the pace at
        // which a key keeps its most spares.
        var now = _clock.GetUtcNow();
        _clock.Advance(TimeBuckets.NextMinute(now) - now - TimeSpan.FromMilliseconds(800));
        var settles = new List<Task>();
        for (var i = 0; i < Requests; i++)
        {
            _clock.Advance(TimeSpan.FromMilliseconds(10));
            await UntilAsync(() => _state.Spares.Taking == 0, "the spares on their way");
            var admitted = await AdmitAsync(deployments, key);
            Assert.Equal(AdmissionStatus.Admitted, admitted.Status);
            settles.Add(SettleAsync(admitted, tokens: 7, took: TimeSpan.FromMilliseconds(30)));
        }

        // A spare serves only the minute it was taken in. Taken for requests that would come after the minute's end,
        // they were given back unused at the first request of the next minute (9 left over when the minute was not
        // looked at); now the refills shrink as the minute ends.
        Assert.InRange(_state.Spares.Released, 0, 2);
        Assert.InRange(_state.Spares.Used, Requests - 6, Requests - 1);
        await UntilAsync(() => _state.Spares.Taking == 0, "the spares on their way");
        var releasing = _state.ReleaseSparesAsync();
        _state.Dispose();
        await releasing;
        await Task.WhenAll(settles);
        await UntilAsync(async () => await _db.SortedSetLengthAsync(LiveKeys.DeploymentLeases(deployments[0].Id)) == 0, "every slot to be given back");
    }

    [Theory]
    [InlineData(1_280, 20)]
    [InlineData(50, 1_450)]
    public async Task OneAfterAnother_SecondsApart_EachFindsASpare_NoneGoesStale(int answerMs, int pauseMs)
    {
        // Streams of 1.28 s one after another, as Open WebUI's users send them, or short answers 1.5 s apart: a spare
        // taken after an answer counts from then, and is taken only if a request will come for it well within its
        // lifetime (the one after next, for the streams; for the short answers, none: the next request takes the last
        // spare and has one taken at once).
        var deployments = new[] { Dep("a") };
        var key = Key(rpm: 1_000, tpm: 1_000_000);
        const int Requests = 10;
        var minute = Minute;
        for (var i = 0; i < Requests; i++)
        {
            await UntilAsync(() => _state.Spares.Taking == 0, "the spares on their way");
            var admitted = await AdmitAsync(deployments, key);
            Assert.Equal(AdmissionStatus.Admitted, admitted.Status);
            _clock.Advance(TimeSpan.FromMilliseconds(answerMs));
            await UntilAsync(() => _state.Spares.Taking == 0, "the spares on their way");
            await SettleAsync(admitted, tokens: 7);
            _clock.Advance(TimeSpan.FromMilliseconds(pauseMs));
        }

        // Every request but the first found its spare (the first one's admission, once its key is seeded, already
        // counts as back to back), and none went stale.
        Assert.Equal(Requests - 1, _state.Spares.Used);
        Assert.Equal(0, _state.Spares.Released);
        Assert.Equal(minute, Minute);
    }

    [Fact]
    public async Task RequestsThatComeTogether_TakeASpareEach_UpToTheCap_CountsEndExact()
    {
        var deployments = new[] { Dep("a") };
        var key = Key(rpm: 100_000, tpm: 100_000_000);
        var leases = new List<string>();
        async Task WaveAsync(int requests)
        {
            var admitted = await Task.WhenAll(Enumerable.Range(0, requests).Select(_ => AdmitAsync(deployments, key)));
            Assert.All(admitted, a => Assert.Equal(AdmissionStatus.Admitted, a.Status));
            leases.AddRange(admitted.Select(a => a.Lease!.Id));
            foreach (var a in admitted) await SettleAsync(a, tokens: 7);
        }
        await BackToBackUntilSparesAsync(deployments, key, admitted => leases.Add(admitted.Lease!.Id));

        // Eight requests at once: those that find a spare take it and owe its replacement (the last one taken is
        // replaced at once). The first to find none is admitted the ordinary way (spares are already on their way),
        // and those after it overlap that one, so each has a spare taken.
        await WaveAsync(8);
        await UntilAsync(() => _state.Spares.Taking == 0, "the spares to be taken");
        var waiting = _state.Spares.Waiting;
        Assert.InRange(waiting, 3, 8 + SpareAdmissions.MaxAhead);
        var used = _state.Spares.Used;

        // So as many requests at once all start without waiting for Redis.
        await WaveAsync(waiting);
        Assert.Equal(used + waiting, _state.Spares.Used);

        // More at once than the cap: spares waiting, being taken and owed stop at the cap (a few replacements may still
        // be owed, waiting to go with the next ones).
        await WaveAsync(SpareAdmissions.MaxWaiting + 8);
        await UntilAsync(() => _state.Spares is { Taking: 0, Waiting: >= SpareAdmissions.MaxWaiting - SpareAdmissions.MaxAhead }, "spares up to the cap");
        var atCap = _state.Spares.Waiting;
        Assert.InRange(atCap, SpareAdmissions.MaxWaiting - SpareAdmissions.MaxAhead, SpareAdmissions.MaxWaiting);
        // Every request is settled, so the slots held are the waiting spares'.
        Assert.Equal(atCap, await _db.SortedSetLengthAsync(LiveKeys.DeploymentLeases(deployments[0].Id)));

        // No spare went to two requests, and once the waiting ones are given back Redis counts every request, no more.
        Assert.Equal(leases.Count, leases.Distinct().Count());
        var released = _state.Spares.Released;
        await _state.ReleaseSparesAsync();
        Assert.Equal(released + atCap, _state.Spares.Released);
        await CountReachesAsync(LiveKeys.KeyRequests(key.KeyId, Minute), leases.Count, "the key's request count to be exact");
        await UntilAsync(async () => await _db.SortedSetLengthAsync(LiveKeys.DeploymentLeases(deployments[0].Id)) == 0, "every slot to be given back");
        Assert.Equal(7L * leases.Count, await CounterAsync(LiveKeys.KeyTokens(key.KeyId, Minute)));
    }

    [Fact]
    public async Task UnusedSpare_IsReleasedAfterItsTime()
    {
        var deployments = new[] { Dep("a") };
        await SettleAsync(await AdmitAsync(deployments, key: null));
        await SettleAsync(await AdmitAsync(deployments, key: null));
        var leases = LiveKeys.DeploymentLeases(deployments[0].Id);
        await UntilAsync(() => _state.Spares.Waiting == 1, "a spare to be taken");
        Assert.Equal(1, await _db.SortedSetLengthAsync(leases));

        // Nobody comes for it: once it has waited its time, its slot and its request count are given back.
        var minute = Minute;
        _clock.Advance(SpareAdmissions.Ttl + TimeSpan.FromMilliseconds(1));
        await UntilAsync(async () => await _db.SortedSetLengthAsync(leases) == 0, "the unused spare to be released");
        Assert.Equal(2, await CounterAsync(LiveKeys.DeploymentRequests(deployments[0].Id, minute)));
        Assert.Equal(new SpareCounts(0, 1, 0, 0), _state.Spares);
    }

    [Fact]
    public async Task SpareOfAnEarlierMinute_IsNotUsed()
    {
        var deployments = new[] { Dep("a") };
        var made = await BackToBackUntilSparesAsync(deployments, key: null);
        var earlier = Minute;

        // The spare counts in the minute it was taken in; a request of the next minute is counted in its own.
        _clock.Advance(TimeSpan.FromMinutes(1));
        var next = await AdmitAsync(deployments, key: null);

        Assert.Equal(AdmissionStatus.Admitted, next.Status);
        Assert.Equal(0, _state.Spares.Used);
        Assert.Equal(1, await CounterAsync(LiveKeys.DeploymentRequests(deployments[0].Id, Minute)));
        await CountReachesAsync(LiveKeys.DeploymentRequests(deployments[0].Id, earlier), made, "the stale spare's count to be given back");
    }

    [Fact]
    public async Task FailedDeployment_ItsSpareIsReleased()
    {
        var deployments = new[] { Dep("a") };
        await SettleAsync(await AdmitAsync(deployments, key: null));
        var second = await AdmitAsync(deployments, key: null);
        var leases = LiveKeys.DeploymentLeases(deployments[0].Id);
        await UntilAsync(() => _state.Spares.Waiting == 1, "a spare to be taken");
        Assert.Equal(2, await _db.SortedSetLengthAsync(leases));

        // The deployment may be cooling down after this failure: no request should find a slot on it ready.
        await SettleAsync(second, failed: true);

        Assert.Equal(1, _state.Spares.Released);
        await UntilAsync(async () => await _db.SortedSetLengthAsync(leases) == 0, "the spare's slot to be given back");
    }

    [Theory]
    [InlineData("the key's limits changed")]
    [InlineData("a larger share than the spare reserved")]
    public async Task SpareThatDoesNotFit_IsGivenBack_AndTheRequestIsAdmittedAsItAsks(string change)
    {
        var deployments = new[] { Dep("a") };
        var key = Key(rpm: 1_000, tpm: 1_000_000);
        var made = await BackToBackUntilSparesAsync(deployments, key);
        var before = _state.Spares;

        // An admin lowered the key's rpm, or this request asks for more tokens than the spare holds for it.
        var asked = change == "the key's limits changed" ? key with { RpmLimit = 900 } : key with { ReserveTokens = 100 };
        var admitted = await AdmitAsync(deployments, asked);

        Assert.Equal(AdmissionStatus.Admitted, admitted.Status);
        Assert.Equal(before.Used, _state.Spares.Used);
        Assert.Equal(before.Released + before.Waiting, _state.Spares.Released);
        Assert.Same(asked, admitted.KeyHold!.Key);
        // The spare's count went back: the key has counted its requests and whatever was taken ahead after them.
        await _state.ReleaseSparesAsync();
        await CountReachesAsync(LiveKeys.KeyRequests(key.KeyId, Minute), made + 1, "the key's request count to be exact");
    }

    [Theory]
    [InlineData("tight key limit")]
    [InlineData("key parallel limit")]
    [InlineData("deployment parallel limit")]
    [InlineData("backend limit")]
    [InlineData("least-busy over two deployments")]
    public async Task WhereASpareCouldBeNoticed_NoneIsTaken(string limit)
    {
        var deployments = limit switch
        {
            "deployment parallel limit" => [Dep("a") with { MaxParallelRequests = 4 }],
            "least-busy over two deployments" => [Dep("a"), Dep("b")],
            _ => new[] { Dep("a") },
        };
        var key = limit switch
        {
            "tight key limit" => Key(rpm: 50, tpm: null),
            "key parallel limit" => Key(rpm: null, tpm: null) with { MaxParallel = 4 },
            _ => null,
        };
        int? backendLimit = limit == "backend limit" ? 4 : null;

        for (var i = 0; i < 3; i++) await SettleAsync(await AdmitAsync(deployments, key, backendLimit, leastBusy: true));
        await _state.ReleaseSparesAsync();

        // Every admission went to Redis and none was taken ahead, so none had to be given back.
        Assert.Equal(default, _state.Spares);
        var counted = 0L;
        foreach (var d in deployments) counted += await CounterAsync(LiveKeys.DeploymentRequests(d.Id, Minute));
        Assert.Equal(3, counted);
    }

    private string Minute => TimeBuckets.Minute(_clock.GetUtcNow());

    /// <summary>A fresh state whose settles wait for an admission call to ride with, however slow this machine.</summary>
    private void SettlesOnlyRide()
    {
        _state.Dispose();
        _state = new RedisLiveState(_connection, new LocalLiveState(), _log, new RouterSettings(), _clock,
            settleWait: TimeSpan.FromMinutes(1));
    }

    private Deployment Dep(string name) => new()
    {
        Id = $"{name}-{_run}", ModelName = "chat", Provider = BackendProvider.Ollama, Model = "llama3.1:8b",
        ApiBase = new Uri($"http://backend-{_run}:11434/"),
    };

    private static KeyAdmission Key(long? rpm, long? tpm) => new() { KeyId = Guid.NewGuid(), RpmLimit = rpm, TpmLimit = tpm, ReserveTokens = 10 };

    /// <summary>Admits as the router does a request's first attempt: a key met for the first time is seeded first.</summary>
    /// <param name="leastBusy">Default: least-busy for one deployment, else first admissible in order (as simple-shuffle orders them).</param>
    private async Task<AdmissionResult> AdmitAsync(Deployment[] candidates, KeyAdmission? key, int? backendLimit = null, bool? leastBusy = null)
    {
        ValueTask<AdmissionResult> Once() => _state.AdmitAsync(new AdmissionRequest
        {
            LeaseId = Guid.NewGuid().ToString("N"), RequestId = Guid.NewGuid().ToString("N"), Candidates = candidates,
            LeastBusy = leastBusy ?? candidates.Length == 1,
            Key = key, Now = _clock.GetUtcNow(), LeaseTtl = LeaseTtl, BackendLimit = backendLimit, MayUseSpare = true,
        });
        var result = await Once();
        if (result.Status != AdmissionStatus.KeyNeedsSeed) return result;
        await _state.SeedAsync(key!, default, _clock.GetUtcNow());
        return await Once();
    }

    /// <summary>Settles as the router does at the end of a request, then tells the state the answer is out.</summary>
    private Task SettleAsync(AdmissionResult admitted, bool failed = false, long tokens = 0, TimeSpan took = default)
    {
        var settled = _state.SettleAsync(new SettleRequest
        {
            Lease = admitted.Lease, KeyHold = admitted.KeyHold, Now = _clock.GetUtcNow(), Failed = failed, ActualTokens = tokens,
            AllowedFails = 3, FailureWindow = TimeSpan.FromSeconds(60), CooldownTime = TimeSpan.FromSeconds(30),
        });
        _state.Finished(admitted.Lease, admitted.KeyHold, took);
        return settled;
    }

    /// <summary>
    /// Admits and settles requests one after another until spares wait for the next, and none is still on its way: two
    /// requests, unless a spare's admission failed (its Redis call outlived redis_timeout in a stall of this shared
    /// machine; a CI run once waited for spares that never came), which leaves the next request to have one taken.
    /// </summary>
    /// <returns>How many requests it made, each settled with 7 tokens when <paramref name="key"/> is given.</returns>
    private async Task<int> BackToBackUntilSparesAsync(Deployment[] deployments, KeyAdmission? key, Action<AdmissionResult>? admitted = null)
    {
        const int Most = 5;
        for (var made = 1; ; made++)
        {
            var result = await AdmitAsync(deployments, key);
            Assert.Equal(AdmissionStatus.Admitted, result.Status);
            admitted?.Invoke(result);
            await SettleAsync(result, tokens: key is null ? 0 : 7);
            if (made < 2) continue;
            await UntilAsync(() => _state.Spares.Taking == 0, "the spares on their way");
            if (_state.Spares.Waiting > 0) return made;
            Assert.True(made < Most, $"no spare was waiting after {made} requests back to back ({_state.Spares}); logged: {string.Join(" | ", _log.Messages)}");
        }
    }

    private async Task<long> CounterAsync(string name) => (long?)await _db.StringGetAsync(name) ?? 0;

    /// <summary>Polls counter <paramref name="name"/> until it reads <paramref name="expected"/>; a timeout says what it read last.</summary>
    private Task CountReachesAsync(string name, long expected, string what) =>
        Eventually.UntilAsync(() => CounterAsync(name), count => count == expected, what, TimeSpan.FromSeconds(20));

    /// <summary>The project's poll with a deadline (<see cref="Eventually"/>), with this class's 20 s bound.</summary>
    private static Task UntilAsync(Func<bool> condition, string what) => UntilAsync(() => Task.FromResult(condition()), what);

    private static Task UntilAsync(Func<Task<bool>> condition, string what) =>
        Eventually.UntilAsync(condition, ok => ok, what, TimeSpan.FromSeconds(20));
}
