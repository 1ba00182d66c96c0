using LlmRouter.Configuration;
using LlmRouter.Discovery;
using static LlmRouter.Tests.Discovery.TestDeployments;

namespace LlmRouter.Tests.Discovery;

/// <summary>The catalog's rules against a scripted backend: what counts as held, loaded, healthy and routable, and when.</summary>
public sealed class BackendCatalogTests
{
    private const string A = "http://10.0.0.1:11434/";
    private const string B = "http://10.0.0.2:11434/";

    private readonly FakeDiscoveryClient _client = new();
    private readonly FakeTimeProvider _time = new();
    private readonly Deployment _llamaA = Deployment("llama-a", "llama3.1:8b", A);
    private readonly Deployment _qwenA = Deployment("qwen-a", "Qwen2.5-Coder:14B", A, group: "code");
    private readonly Deployment _embedA = Deployment("embed-a", "nomic-embed-text", A, group: "embed");
    private readonly Deployment _llamaB = Deployment("llama-b", "llama3.1:8b", B);

    private BackendCatalog Catalog(RouterSettings? settings = null) =>
        TestDeployments.Catalog(Config(settings ?? new RouterSettings(), _llamaA, _qwenA, _embedA, _llamaB), _client, _time);

    [Fact]
    public void BeforeFirstPoll_ConfigIsTrusted()
    {
        var catalog = Catalog();

        Assert.All([_llamaA, _qwenA, _embedA, _llamaB], d =>
        {
            Assert.True(catalog.IsHeld(d));
            Assert.True(catalog.IsRoutable(d));
            Assert.False(catalog.IsLoaded(d));
        });
        Assert.True(catalog.IsHealthy(A));
    }

    [Fact]
    public async Task PollNowAsync_ModelMissingFromTags_IsNotHeldOrRoutable()
    {
        _client[A].Holds("llama3.1:8b", "nomic-embed-text:latest");
        _client[B].Holds("llama3.1:8b");
        var catalog = Catalog();

        await catalog.PollNowAsync(CancellationToken.None);

        Assert.False(catalog.IsHeld(_qwenA));
        Assert.False(catalog.IsRoutable(_qwenA));
        Assert.True(catalog.IsRoutable(_llamaA));
        Assert.True(catalog.IsRoutable(_llamaB));
    }

    [Fact]
    public async Task PollNowAsync_NamesMatchCaseInsensitivelyWithLatestImplied()
    {
        _client[A].Holds("LLAMA3.1:8b", "qwen2.5-coder:14b", "Nomic-Embed-Text:latest");
        var catalog = Catalog();

        await catalog.PollNowAsync(CancellationToken.None);

        Assert.True(catalog.IsHeld(_llamaA));
        Assert.True(catalog.IsHeld(_qwenA));
        Assert.True(catalog.IsHeld(_embedA));
    }

    [Fact]
    public async Task PollNowAsync_ModelRemovedThenPulled_FollowsEachPoll()
    {
        _client[A].Holds("llama3.1:8b", "qwen2.5-coder:14b");
        var catalog = Catalog();
        await catalog.PollNowAsync(CancellationToken.None);
        Assert.True(catalog.IsHeld(_qwenA));

        _client[A].Holds("llama3.1:8b");
        await catalog.PollNowAsync(CancellationToken.None);
        Assert.False(catalog.IsHeld(_qwenA));

        _client[A].Holds("llama3.1:8b", "qwen2.5-coder:14b");
        await catalog.PollNowAsync(CancellationToken.None);
        Assert.True(catalog.IsHeld(_qwenA));
    }

    [Fact]
    public async Task PollNowAsync_TagsFail_KeepsTheLastKnownListAndReportsTheError()
    {
        _client[A].Holds("llama3.1:8b");
        var catalog = Catalog();
        await catalog.PollNowAsync(CancellationToken.None);
        var firstSuccess = catalog.Backends[0].Models.LastSuccessAt;

        _client[A].TagsFail = true;
        _client[A].Holds("llama3.1:8b", "qwen2.5-coder:14b");
        _time.Advance(TimeSpan.FromSeconds(10));
        await catalog.PollNowAsync(CancellationToken.None);

        Assert.True(catalog.IsHeld(_llamaA));
        Assert.False(catalog.IsHeld(_qwenA));
        var models = catalog.Backends[0].Models;
        Assert.Contains("/api/tags", models.LastError);
        Assert.Contains("Connection refused", models.LastError);
        Assert.Equal(firstSuccess, models.LastSuccessAt);
        Assert.Equal(_time.GetUtcNow(), models.LastPollAt);
        Assert.Equal(1, models.ConsecutiveFailures);

        _client[A].TagsFail = false;
        await catalog.PollNowAsync(CancellationToken.None);
        Assert.True(catalog.IsHeld(_qwenA));
        Assert.Null(catalog.Backends[0].Models.LastError);
    }

    [Fact]
    public async Task PollNowAsync_FirstPollFails_ConfigStaysTrusted()
    {
        _client[A].TagsFail = true;
        var catalog = Catalog();

        await catalog.PollNowAsync(CancellationToken.None);

        Assert.True(catalog.IsHeld(_qwenA));
        Assert.Null(catalog.Backends[0].Models.Held);
        Assert.NotNull(catalog.Backends[0].Models.LastError);
    }

    [Fact]
    public async Task PollNowAsync_LoadedModels_FollowApiPs()
    {
        _client[A].Holds("llama3.1:8b", "qwen2.5-coder:14b").HasLoaded("Qwen2.5-Coder:14b");
        var catalog = Catalog();

        await catalog.PollNowAsync(CancellationToken.None);
        Assert.True(catalog.IsLoaded(_qwenA));
        Assert.False(catalog.IsLoaded(_llamaA));

        _client[A].HasLoaded("llama3.1:8b");
        await catalog.PollNowAsync(CancellationToken.None);
        Assert.False(catalog.IsLoaded(_qwenA));
        Assert.True(catalog.IsLoaded(_llamaA));
    }

    [Fact]
    public async Task PollNowAsync_PsFails_TagsStillAppliedAndLoadedKept()
    {
        _client[A].Holds("llama3.1:8b", "qwen2.5-coder:14b").HasLoaded("llama3.1:8b");
        var catalog = Catalog();
        await catalog.PollNowAsync(CancellationToken.None);

        _client[A].PsFail = true;
        _client[A].Holds("llama3.1:8b");
        await catalog.PollNowAsync(CancellationToken.None);

        Assert.False(catalog.IsHeld(_qwenA));
        Assert.True(catalog.IsLoaded(_llamaA));
        Assert.StartsWith("/api/ps", catalog.Backends[0].Models.LastError);
    }

    [Fact]
    public async Task ContextLength_MaxInputTokensFromConfig_WinsWithoutAskingTheBackend()
    {
        var capped = Deployment("capped", "llama3.1:8b", A, maxInputTokens: 1000);
        _client[A].Holds("llama3.1:8b").ContextLengths["llama3.1:8b"] = 131072;
        var catalog = TestDeployments.Catalog(Config(new RouterSettings(), capped), _client, _time);

        Assert.Equal(1000, catalog.ContextLength(capped));
        await catalog.PollNowAsync(CancellationToken.None);

        Assert.Equal(1000, catalog.ContextLength(capped));
        Assert.Empty(_client[A].ShowCalls);
    }

    [Fact]
    public async Task ContextLength_FromApiShow_FetchedOncePerModelVersion()
    {
        _client[A].Holds("llama3.1:8b", "qwen2.5-coder:14b");
        _client[A].ContextLengths["llama3.1:8b"] = 8192;
        _client[A].ContextLengths["qwen2.5-coder:14b"] = 32768;
        var catalog = Catalog();
        Assert.Null(catalog.ContextLength(_llamaA));

        await catalog.PollNowAsync(CancellationToken.None);
        await catalog.PollNowAsync(CancellationToken.None);

        Assert.Equal(8192, catalog.ContextLength(_llamaA));
        Assert.Equal(32768, catalog.ContextLength(_qwenA));
        Assert.Null(catalog.ContextLength(_embedA));
        Assert.Equal(["llama3.1:8b", "Qwen2.5-Coder:14B"], _client[A].ShowCalls);

        _client[A].ContextLengths["llama3.1:8b"] = 4096;
        _client[A].Repull("llama3.1:8b", "v2");
        await catalog.PollNowAsync(CancellationToken.None);

        Assert.Equal(4096, catalog.ContextLength(_llamaA));
        Assert.Equal(["llama3.1:8b", "Qwen2.5-Coder:14B", "llama3.1:8b"], _client[A].ShowCalls);
    }

    [Fact]
    public async Task ContextLength_ShowFails_UnknownThenAskedAgain()
    {
        _client[A].Holds("llama3.1:8b").ContextLengths["llama3.1:8b"] = 8192;
        _client[A].ShowFail = true;
        var catalog = Catalog();

        await catalog.PollNowAsync(CancellationToken.None);
        Assert.Null(catalog.ContextLength(_llamaA));

        _client[A].ShowFail = false;
        await catalog.PollNowAsync(CancellationToken.None);
        Assert.Equal(8192, catalog.ContextLength(_llamaA));
    }

    [Fact]
    public async Task CheckNowAsync_BackendDown_UnroutableAfterFallChecksAndBackAfterRise()
    {
        var catalog = Catalog(new RouterSettings { HealthCheckFall = 3, HealthCheckRise = 2 });
        _client[A].PingFail = true;

        await catalog.CheckNowAsync(CancellationToken.None);
        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.True(catalog.IsHealthy(A));
        Assert.True(catalog.IsRoutable(_llamaA));

        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.False(catalog.IsHealthy(A));
        Assert.False(catalog.IsRoutable(_llamaA));
        Assert.True(catalog.IsHeld(_llamaA));
        Assert.True(catalog.IsRoutable(_llamaB));
        Assert.Equal(3, catalog.Backends[0].Health.ConsecutiveFailures);

        _client[A].PingFail = false;
        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.False(catalog.IsRoutable(_llamaA));
        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.True(catalog.IsRoutable(_llamaA));
        Assert.Contains("Connection refused", catalog.Backends[0].Health.LastError);
    }

    [Fact]
    public async Task CheckNowAsync_DeepCheckFailsForOneModel_OnlyThatDeploymentGoesOut()
    {
        var catalog = Catalog(new RouterSettings { HealthCheckDeep = true, HealthCheckFall = 2 });
        _client[A].Holds("llama3.1:8b", "qwen2.5-coder:14b", "nomic-embed-text");
        await catalog.PollNowAsync(CancellationToken.None);
        _client[A].DeepFailing.Add("qwen2.5-coder:14b");

        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.True(catalog.IsRoutable(_qwenA));
        await catalog.CheckNowAsync(CancellationToken.None);

        Assert.False(catalog.IsRoutable(_qwenA));
        Assert.True(catalog.IsHeld(_qwenA));
        Assert.True(catalog.IsHealthy(A));
        Assert.True(catalog.IsRoutable(_llamaA));
        Assert.True(catalog.IsRoutable(_embedA));
        Assert.Contains("out of memory", catalog.Backends[0].Deployments.Single(d => d.Deployment.Id == "qwen-a").DeepHealth.LastError);
        lock (_client[A]) Assert.Contains(("nomic-embed-text", true), _client[A].DeepCalls);
    }

    [Fact]
    public async Task CheckNowAsync_DeepChecksOff_NoTokenIsAskedFor()
    {
        var catalog = Catalog(new RouterSettings { HealthCheckDeep = false });
        _client[A].DeepFailing.Add("llama3.1:8b");

        await catalog.CheckNowAsync(CancellationToken.None);

        Assert.Empty(_client[A].DeepCalls);
        Assert.Equal(1, _client[A].PingCalls);
    }

    [Fact]
    public async Task CheckDeploymentsAsync_ModelNotHeld_IsNotAskedForAToken()
    {
        var catalog = Catalog(new RouterSettings { HealthCheckDeep = true });
        _client[A].Holds("llama3.1:8b");
        await catalog.PollNowAsync(CancellationToken.None);

        await catalog.CheckDeploymentsAsync(CancellationToken.None);

        lock (_client[A]) Assert.Equal([("llama3.1:8b", false)], _client[A].DeepCalls);
    }

    [Fact]
    public void UnknownDeploymentOrBackend_IsNeverRoutable()
    {
        var catalog = Catalog();
        var stranger = Deployment("stranger", "llama3.1:8b", "http://10.0.0.9:11434/");

        Assert.False(catalog.IsHeld(stranger));
        Assert.False(catalog.IsRoutable(stranger));
        Assert.False(catalog.IsHealthy(stranger.BackendId));
        Assert.Null(catalog.ContextLength(stranger));
    }

    [Fact]
    public async Task PollNowAsync_CalledTwiceAtOnce_RunsTwoRoundsOverEveryBackend()
    {
        var catalog = Catalog();

        await Task.WhenAll(catalog.PollNowAsync(CancellationToken.None), catalog.PollNowAsync(CancellationToken.None));

        Assert.Equal(2, _client[A].TagsCalls);
        Assert.Equal(2, _client[B].TagsCalls);
    }
}
