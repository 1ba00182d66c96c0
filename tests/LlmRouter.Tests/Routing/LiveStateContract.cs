using LlmRouter.Configuration;
using LlmRouter.LiveState;
using LlmRouter.Tests.Services;
using LlmRouter.Tests.Usage;

namespace LlmRouter.Tests.Routing;

/// <summary>
/// The rules every live state must keep, run against the process-local one and the Redis scripts alike:
/// slots are never over-granted, failures lead to a cooldown that ends by the clock, key limits hold.
/// </summary>
public abstract class LiveStateContract
{
    protected readonly FakeTimeProvider Clock = new();
    private static readonly TimeSpan LeaseTtl = TimeSpan.FromSeconds(15);

    private protected abstract ILiveState State { get; }

    /// <summary>What the state under test logged.</summary>
    private protected abstract IReadOnlyCollection<string> Logged { get; }

    private protected Deployment Dep(string id, int? maxParallel = null) => new()
    {
        Id = id, ModelName = "chat", Provider = BackendProvider.Ollama, Model = "llama3.1:8b", ApiBase = new Uri($"http://backend-{_run}:11434/"),
        MaxParallelRequests = maxParallel,
    };

    /// <summary>Admits as the router does: a key met for the first time in its period is seeded (with no recorded usage) first.</summary>
    private protected async Task<AdmissionResult> AdmitAsync(IReadOnlyList<Deployment> candidates, bool leastBusy = true,
        KeyAdmission? key = null, int? backendLimit = null)
    {
        var result = await AdmitOnceAsync(candidates, leastBusy, key, backendLimit);
        if (result.Status != AdmissionStatus.KeyNeedsSeed) return result;
        await State.SeedAsync(key!, default, Clock.GetUtcNow());
        return await AdmitOnceAsync(candidates, leastBusy, key, backendLimit);
    }

    private protected async Task<AdmissionResult> AdmitOnceAsync(IReadOnlyList<Deployment> candidates, bool leastBusy = true,
        KeyAdmission? key = null, int? backendLimit = null) =>
        await State.AdmitAsync(new AdmissionRequest
        {
            LeaseId = Guid.NewGuid().ToString("N"), RequestId = Guid.NewGuid().ToString("N"), Candidates = candidates,
            LeastBusy = leastBusy, Key = key, Now = Clock.GetUtcNow(), LeaseTtl = LeaseTtl, BackendLimit = backendLimit, WantsStats = true,
        });

    private protected Task SettleAsync(AdmissionResult admitted, bool failed = false, long tokens = 0) =>
        State.SettleAsync(new SettleRequest
        {
            Lease = admitted.Lease, KeyHold = admitted.KeyHold, Now = Clock.GetUtcNow(), Failed = failed, ActualTokens = tokens,
            AllowedFails = 3, FailureWindow = TimeSpan.FromSeconds(60), CooldownTime = TimeSpan.FromSeconds(30),
        });

    [Fact]
    public async Task Admit_LeastBusy_SpreadsAcrossDeployments()
    {
        var deployments = new[] { Dep(Id("a")), Dep(Id("b")), Dep(Id("c")) };
        var chosen = new List<string>();
        for (var i = 0; i < 6; i++) chosen.Add((await AdmitAsync(deployments)).Deployment!.Id);

        Assert.All(deployments, d => Assert.Equal(2, chosen.Count(c => c == d.Id)));
    }

    [Fact]
    public async Task Admit_AtMaxParallel_IsBusyUntilASlotIsSettled()
    {
        var only = new[] { Dep(Id("a"), maxParallel: 2) };
        var first = await AdmitAsync(only);
        await AdmitAsync(only);

        Assert.Equal(AdmissionStatus.Busy, (await AdmitAsync(only)).Status);
        await SettleAsync(first);
        Assert.Equal(AdmissionStatus.Admitted, (await AdmitAsync(only)).Status);
    }

    [Fact]
    public async Task Admit_ConcurrentRequests_NeverOvergrantSlots()
    {
        var only = new[] { Dep(Id("a"), maxParallel: 5) };
        var results = await Task.WhenAll(Enumerable.Range(0, 60).Select(_ => Task.Run(() => AdmitAsync(only))));

        Assert.Equal(5, results.Count(r => r.Status == AdmissionStatus.Admitted));
    }

    [Fact]
    public async Task Admit_BackendLimit_CountsEveryModelOnTheServer()
    {
        var chat = Dep(Id("chat"));
        var code = Dep(Id("code")) with { ModelName = "code" };
        Assert.Equal(AdmissionStatus.Admitted, (await AdmitAsync([chat], backendLimit: 1)).Status);

        Assert.Equal(AdmissionStatus.Busy, (await AdmitAsync([code], backendLimit: 1)).Status);
    }

    [Fact]
    public async Task Cooldown_AfterAllowedFails_EndsAfterCooldownTime()
    {
        var only = new[] { Dep(Id("a")) };
        for (var i = 0; i < 3; i++) await SettleAsync(await AdmitAsync(only), failed: true);

        var cooling = await AdmitAsync(only);
        Assert.Equal(AdmissionStatus.CoolingDown, cooling.Status);
        Assert.Equal(Clock.GetUtcNow().AddSeconds(30), cooling.RetryAt!.Value, TimeSpan.FromMilliseconds(5));

        Clock.Advance(TimeSpan.FromSeconds(29));
        Assert.Equal(AdmissionStatus.CoolingDown, (await AdmitAsync(only)).Status);
        Clock.Advance(TimeSpan.FromSeconds(1.5));
        Assert.Equal(AdmissionStatus.Admitted, (await AdmitAsync(only)).Status);
    }

    [Fact]
    public async Task Cooldown_Started_IsLoggedOnceWithTheDeploymentAndHowLong()
    {
        var only = new[] { Dep(Id("a")) };
        for (var i = 0; i < 3; i++) await SettleAsync(await AdmitAsync(only), failed: true);
        Assert.Equal(AdmissionStatus.CoolingDown, (await AdmitAsync(only)).Status);

        var warning = Assert.Single(Logged, m => m.Contains(only[0].Id, StringComparison.Ordinal));
        Assert.Equal($"Warning: Deployment {only[0].Id} (llama3.1:8b on {only[0].ApiBase}) gets no requests for 30 s: 3 failed within 60 s (allowed_fails)", warning);
    }

    [Fact]
    public async Task Cooldown_FailuresOutsideTheWindow_DoNotAccumulate()
    {
        var only = new[] { Dep(Id("a")) };
        await SettleAsync(await AdmitAsync(only), failed: true);
        await SettleAsync(await AdmitAsync(only), failed: true);
        Clock.Advance(TimeSpan.FromSeconds(61));
        await SettleAsync(await AdmitAsync(only), failed: true);

        Assert.Equal(AdmissionStatus.Admitted, (await AdmitAsync(only)).Status);
    }

    [Fact]
    public async Task Cooldown_OneDeploymentCooling_OthersStillServe()
    {
        var a = Dep(Id("a"));
        var b = Dep(Id("b"));
        for (var i = 0; i < 3; i++) await SettleAsync(await AdmitAsync([a]), failed: true);

        for (var i = 0; i < 4; i++) Assert.Equal(b.Id, (await AdmitAsync([a, b])).Deployment!.Id);
    }

    [Fact]
    public async Task Key_Rpm_RefusesThenResetsNextMinute()
    {
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), RpmLimit = 2 };
        var deployments = new[] { Dep(Id("a")) };
        await SettleAsync(await AdmitAsync(deployments, key: key));
        await SettleAsync(await AdmitAsync(deployments, key: key));

        var refused = await AdmitAsync(deployments, key: key);
        Assert.Equal(AdmissionStatus.KeyRateLimited, refused.Status);
        Clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(AdmissionStatus.Admitted, (await AdmitAsync(deployments, key: key)).Status);
    }

    [Fact]
    public async Task Key_Quota_ReservesAtAdmissionAndSettlesTheRealCount()
    {
        var keyId = Guid.NewGuid();
        KeyAdmission Reserve(long tokens) => new() { KeyId = keyId, QuotaLimit = 100, ReserveTokens = tokens };
        var deployments = new[] { Dep(Id("a")) };

        var first = await AdmitAsync(deployments, key: Reserve(60));
        Assert.Equal(AdmissionStatus.KeyQuotaExceeded, (await AdmitAsync(deployments, key: Reserve(60))).Status);
        await SettleAsync(first, tokens: 10);

        // 10 used, so 60 more fits now; then 90 used, and even 20 does not.
        var second = await AdmitAsync(deployments, key: Reserve(60));
        Assert.Equal(AdmissionStatus.Admitted, second.Status);
        await SettleAsync(second, tokens: 80);
        Assert.Equal(AdmissionStatus.KeyQuotaExceeded, (await AdmitAsync(deployments, key: Reserve(20))).Status);
    }

    [Fact]
    public async Task Key_MaxParallel_HoldsAcrossTheRequest()
    {
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), MaxParallel = 1 };
        var deployments = new[] { Dep(Id("a")), Dep(Id("b")) };
        var held = await AdmitAsync(deployments, key: key);

        Assert.Equal(AdmissionStatus.KeyParallelLimited, (await AdmitAsync(deployments, key: key)).Status);
        await SettleAsync(held);
        Assert.Equal(AdmissionStatus.Admitted, (await AdmitAsync(deployments, key: key)).Status);
    }

    [Fact]
    public async Task Seed_FirstUseOfAKey_AsksForRecordedUsage_ThenCountsFromIt()
    {
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), QuotaLimit = 100, ReserveTokens = 20 };
        var deployments = new[] { Dep(Id("a")) };

        Assert.Equal(AdmissionStatus.KeyNeedsSeed, (await AdmitOnceAsync(deployments, key: key)).Status);
        // The key already used 90 tokens this period (recorded in Postgres before a restart).
        await State.SeedAsync(key, new KeyUsageSnapshot(90, 0, 0, 0), Clock.GetUtcNow());
        Assert.Equal(AdmissionStatus.KeyQuotaExceeded, (await AdmitOnceAsync(deployments, key: key)).Status);
    }

    [Fact]
    public async Task Seed_Twice_CountsOnce()
    {
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), QuotaLimit = 100, ReserveTokens = 20 };
        var deployments = new[] { Dep(Id("a")) };
        // Two replicas race to seed the same key: the first wins, the second changes nothing.
        await State.SeedAsync(key, new KeyUsageSnapshot(50, 0, 0, 0), Clock.GetUtcNow());
        await State.SeedAsync(key, new KeyUsageSnapshot(50, 0, 0, 0), Clock.GetUtcNow());

        Assert.Equal(AdmissionStatus.Admitted, (await AdmitOnceAsync(deployments, key: key)).Status);
    }

    [Fact]
    public async Task Seed_Guessed_IsRedoneAfterItsMarkerExpires()
    {
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), QuotaLimit = 100, ReserveTokens = 20 };
        var deployments = new[] { Dep(Id("a")) };
        await State.SeedAsync(key, default, Clock.GetUtcNow(), markerTtl: TimeSpan.FromSeconds(30));
        Assert.Equal(AdmissionStatus.Admitted, (await AdmitOnceAsync(deployments, key: key)).Status);

        Clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(AdmissionStatus.KeyNeedsSeed, (await AdmitOnceAsync(deployments, key: key)).Status);
    }

    [Fact]
    public async Task Seed_AfterAGuess_EachCounterBecomesTheLargerOfCountedAndRecorded_NotTheirSum()
    {
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), QuotaLimit = 100, ReserveTokens = 20 };
        var deployments = new[] { Dep(Id("a")) };
        // Postgres was away: a guessed seed, then two requests counted (40 tokens reserved).
        await State.SeedAsync(key, default, Clock.GetUtcNow(), markerTtl: TimeSpan.FromSeconds(30));
        Assert.Equal(AdmissionStatus.Admitted, (await AdmitOnceAsync(deployments, key: key)).Status);
        Assert.Equal(AdmissionStatus.Admitted, (await AdmitOnceAsync(deployments, key: key)).Status);

        // Postgres is back and holds 50: those 40 and 10 from before. Added up it would read 90 and refuse the next.
        Clock.Advance(TimeSpan.FromSeconds(31));
        Assert.Equal(AdmissionStatus.KeyNeedsSeed, (await AdmitOnceAsync(deployments, key: key)).Status);
        await State.SeedAsync(key, new KeyUsageSnapshot(50, 0, 0, 0), Clock.GetUtcNow());

        Assert.Equal(AdmissionStatus.Admitted, (await AdmitOnceAsync(deployments, key: key)).Status);
        Assert.Equal(AdmissionStatus.Admitted, (await AdmitOnceAsync(deployments, key: key)).Status);
        Assert.Equal(AdmissionStatus.KeyQuotaExceeded, (await AdmitOnceAsync(deployments, key: key)).Status);
    }

    [Fact]
    public async Task RateLimited_TellsWhatIsLeftOfTheOtherLimit()
    {
        var deployments = new[] { Dep(Id("a")) };
        var byRequests = new KeyAdmission { KeyId = Guid.NewGuid(), RpmLimit = 1, TpmLimit = 1000, ReserveTokens = 10 };
        var byTokens = new KeyAdmission { KeyId = Guid.NewGuid(), RpmLimit = 100, TpmLimit = 15, ReserveTokens = 10 };
        await AdmitAsync(deployments, key: byRequests);
        await AdmitAsync(deployments, key: byTokens);

        // The x-ratelimit-remaining-* headers of the 429: the limit it hit at 0, the other as it stands (not as if unused).
        var requests = await AdmitOnceAsync(deployments, key: byRequests);
        var tokens = await AdmitOnceAsync(deployments, key: byTokens);

        Assert.Equal((AdmissionStatus.KeyRateLimited, 0L, 990L), (requests.Status, requests.RemainingRequests, requests.RemainingTokens));
        Assert.Equal((AdmissionStatus.KeyRateLimited, 99L, 0L), (tokens.Status, tokens.RemainingRequests, tokens.RemainingTokens));
    }

    /// <summary>Ids unique per test run, so tests sharing one Redis never see each other's state.</summary>
    private protected string Id(string name) => $"{name}-{_run}";

    private readonly string _run = Guid.NewGuid().ToString("N")[..8];
}

public sealed class LocalLiveStateTests : LiveStateContract
{
    private readonly ListLogger<LocalLiveState> _log = new();
    private readonly LocalLiveState _state;

    public LocalLiveStateTests() => _state = new LocalLiveState(_log);

    private protected override ILiveState State => _state;
    private protected override IReadOnlyCollection<string> Logged => _log.Messages;

    [Theory]
    [InlineData(1, 6)]
    [InlineData(2, 3)]
    [InlineData(4, 2)]
    [InlineData(8, 1)]
    public async Task StandingInForRedis_OfSeveralReplicas_EachLetsThroughItsShareOfTheKeysRpm(int replicas, int served)
    {
        _state.Replicas = replicas;
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), RpmLimit = 6 };
        var deployments = new[] { Dep(Id("a")) };

        var admitted = 0;
        for (var i = 0; i < 10; i++)
            if ((await AdmitAsync(deployments, key: key)).Status == AdmissionStatus.Admitted) admitted++;

        // A share rounds up: eight replicas could let through eight of six, never more than one each.
        Assert.Equal(served, admitted);
    }

    [Fact]
    public async Task StandingInForRedis_QuotaAndBudget_EachReplicaSharesWhatWasLeftWhenSeeded()
    {
        _state.Replicas = 2;
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), QuotaLimit = 1_000, ReserveTokens = 100, BudgetLimitMicros = 10_000, ReserveMicros = 1 };
        var deployments = new[] { Dep(Id("a")) };
        // Every replica together had used 200 of the 1,000 tokens: this one may use half of the 800 left.
        await _state.SeedAsync(key, new KeyUsageSnapshot(200, 0, 0, 0), Clock.GetUtcNow());

        var admitted = 0;
        for (var i = 0; i < 10; i++)
            if ((await AdmitOnceAsync(deployments, key: key)).Status == AdmissionStatus.Admitted) admitted++;
        Assert.Equal(4, admitted);

        // The budget the same way: 9,000 of 10,000 micros spent, each replica may spend 500 more.
        var budget = new KeyAdmission { KeyId = Guid.NewGuid(), BudgetLimitMicros = 10_000, ReserveMicros = 200 };
        await _state.SeedAsync(budget, new KeyUsageSnapshot(0, 9_000, 0, 0), Clock.GetUtcNow());
        admitted = 0;
        for (var i = 0; i < 10; i++)
            if ((await AdmitOnceAsync(deployments, key: budget)).Status == AdmissionStatus.Admitted) admitted++;
        Assert.Equal(2, admitted);
    }

    [Fact]
    public async Task StandingInForRedis_ParallelLimit_IsShared()
    {
        _state.Replicas = 3;
        var key = new KeyAdmission { KeyId = Guid.NewGuid(), MaxParallel = 4 };
        var deployments = new[] { Dep(Id("a")) };

        var held = new List<AdmissionResult>();
        for (var i = 0; i < 4; i++) held.Add(await AdmitAsync(deployments, key: key));

        Assert.Equal(2, held.Count(h => h.Status == AdmissionStatus.Admitted));
        Assert.Equal(AdmissionStatus.KeyParallelLimited, held[^1].Status);
    }

    [Fact]
    public async Task ServingForHours_CountersOfPastMinutesAndBudgetPeriodsDoNotPileUp()
    {
        var created = Clock.GetUtcNow();
        var keyId = Guid.NewGuid();
        var deployments = new[] { Dep(Id("a")), Dep(Id("b")) };
        var kept = new List<int>();

        // Ten hours of a request every 20 s on a key with an hourly budget, each settled: its minutes and its periods
        // come and go.
        for (var i = 0; i < 1_800; i++)
        {
            var (bucket, _, resets) = TimeBuckets.Period(created, TimeSpan.FromHours(1), Clock.GetUtcNow());
            var key = new KeyAdmission
            {
                KeyId = keyId, RpmLimit = 1_000, TpmLimit = 1_000_000, QuotaLimit = 1_000_000, ReserveTokens = 10,
                QuotaBucket = bucket, QuotaResets = resets,
            };
            await SettleAsync(await AdmitAsync(deployments, key: key), tokens: 7);
            Clock.Advance(TimeSpan.FromSeconds(20));
            kept.Add(_state.CounterCount);
        }

        // Two minutes of two deployments and of the key (two counters each, and the key's seeded ones), and at most
        // two periods of the key (quota, budget, what they were seeded with, the seeded mark, the period's end).
        Assert.True(kept.Max() <= 24, $"counters kept: up to {kept.Max()}, at the end {kept[^1]}");
    }
}
