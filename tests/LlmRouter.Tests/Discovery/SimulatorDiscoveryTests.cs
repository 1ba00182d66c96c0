using System.Net;
using LlmRouter.Configuration;
using LlmRouter.Discovery;
using Microsoft.Extensions.Logging.Abstractions;
using static LlmRouter.Tests.Discovery.TestDeployments;

namespace LlmRouter.Tests.Discovery;

/// <summary>Discovery and health checks against real simulator processes over loopback sockets.</summary>
public sealed class SimulatorDiscoveryTests : IAsyncLifetime
{
    private readonly HttpMessageInvoker _http = new(new SocketsHttpHandler
    {
        UseProxy = false,
        AllowAutoRedirect = false,
        AutomaticDecompression = DecompressionMethods.None,
        ConnectTimeout = TimeSpan.FromSeconds(2),
    });
    private readonly List<SimulatorProcess> _simulators = [];

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var s in _simulators) await s.DisposeAsync();
        _http.Dispose();
    }

    private async Task<SimulatorProcess> StartSimulatorAsync(params string[] arguments)
    {
        var simulator = await SimulatorProcess.StartAsync(arguments);
        _simulators.Add(simulator);
        return simulator;
    }

    private BackendCatalog Catalog(RouterSettings settings, params Deployment[] deployments) =>
        TestDeployments.Catalog(Config(settings, deployments), new OllamaDiscoveryClient(_http), TimeProvider.System);

    [Fact]
    public async Task DeletedModel_StopsBeingHeld_AfterOnePoll()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b,qwen2.5-coder:14b");
        var llama = Deployment("llama", "llama3.1:8b", sim.ApiBase);
        var qwen = Deployment("qwen", "qwen2.5-coder:14b", sim.ApiBase, group: "code");
        var catalog = Catalog(new RouterSettings(), llama, qwen);
        await catalog.PollNowAsync(CancellationToken.None);
        Assert.True(catalog.IsRoutable(qwen));

        await sim.DeleteModelAsync("qwen2.5-coder:14b");
        await catalog.PollNowAsync(CancellationToken.None);

        Assert.False(catalog.IsHeld(qwen));
        Assert.False(catalog.IsRoutable(qwen));
        Assert.True(catalog.IsRoutable(llama));
        Assert.DoesNotContain("qwen2.5-coder:14b", catalog.Backends[0].Models.HeldNames);
    }

    [Fact]
    public async Task PulledModel_BecomesHeld_NameMatchedWithLatestImplied()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b");
        var phi = Deployment("phi", "Phi3", sim.ApiBase);
        var catalog = Catalog(new RouterSettings(), phi);
        Assert.True(catalog.IsHeld(phi));

        await catalog.PollNowAsync(CancellationToken.None);
        Assert.False(catalog.IsHeld(phi));

        await sim.PullModelAsync("phi3");
        await catalog.PollNowAsync(CancellationToken.None);

        Assert.True(catalog.IsHeld(phi));
        Assert.Contains("phi3:latest", catalog.Backends[0].Models.HeldNames);
    }

    [Fact]
    public async Task LoadedModels_FollowApiPs()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b,qwen2.5-coder:14b", "--loaded", "llama3.1:8b");
        var llama = Deployment("llama", "llama3.1:8b", sim.ApiBase);
        var qwen = Deployment("qwen", "qwen2.5-coder:14b", sim.ApiBase, group: "code");
        var catalog = Catalog(new RouterSettings(), llama, qwen);

        await catalog.PollNowAsync(CancellationToken.None);
        Assert.True(catalog.IsLoaded(llama));
        Assert.False(catalog.IsLoaded(qwen));

        await sim.PostAsync("_sim/models", new { loaded = new[] { "qwen2.5-coder:14b" } });
        await catalog.PollNowAsync(CancellationToken.None);

        Assert.False(catalog.IsLoaded(llama));
        Assert.True(catalog.IsLoaded(qwen));
        Assert.Equal(["qwen2.5-coder:14b"], catalog.Backends[0].Models.LoadedNames);
    }

    [Fact]
    public async Task BeforeFirstPoll_ConfigIsTrusted_ThenThePollDecides()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b");
        var missing = Deployment("missing", "mistral:7b", sim.ApiBase);
        var catalog = Catalog(new RouterSettings(), missing);

        Assert.True(catalog.IsRoutable(missing));
        Assert.Null(catalog.Backends[0].Models.Held);

        await catalog.PollNowAsync(CancellationToken.None);

        Assert.False(catalog.IsRoutable(missing));
        Assert.NotNull(catalog.Backends[0].Models.Held);
    }

    [Fact]
    public async Task FailingPoll_KeepsTheLastList_HealthChecksDecide()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b");
        var llama = Deployment("llama", "llama3.1:8b", sim.ApiBase);
        var other = Deployment("other", "mistral:7b", sim.ApiBase);
        var catalog = Catalog(new RouterSettings { HealthCheckFall = 1 }, llama, other);
        await catalog.PollNowAsync(CancellationToken.None);

        await sim.KillAsync();
        await catalog.PollNowAsync(CancellationToken.None);

        var models = catalog.Backends[0].Models;
        Assert.NotNull(models.LastError);
        Assert.True(catalog.IsHeld(llama));
        Assert.False(catalog.IsHeld(other));
        Assert.True(catalog.IsRoutable(llama));

        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.False(catalog.IsRoutable(llama));
        Assert.True(catalog.IsHeld(llama));
    }

    [Fact]
    public async Task KilledSimulator_UnhealthyAfterFallChecks_BackAfterRise()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b");
        var llama = Deployment("llama", "llama3.1:8b", sim.ApiBase);
        var catalog = Catalog(new RouterSettings { HealthCheckFall = 3, HealthCheckRise = 2 }, llama);
        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.True(catalog.IsHealthy(llama.BackendId));

        await sim.KillAsync();
        await catalog.CheckNowAsync(CancellationToken.None);
        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.True(catalog.IsHealthy(llama.BackendId));
        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.False(catalog.IsHealthy(llama.BackendId));
        Assert.False(catalog.IsRoutable(llama));
        Assert.NotNull(catalog.Backends[0].Health.LastError);

        await sim.RestartAsync();
        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.False(catalog.IsHealthy(llama.BackendId));
        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.True(catalog.IsHealthy(llama.BackendId));
        Assert.True(catalog.IsRoutable(llama));
    }

    [Fact]
    public async Task ContextLength_FromApiShow_RefreshedWhenTheModelIsPulledAgain()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b", "--context-length", "4096");
        var llama = Deployment("llama", "llama3.1:8b", sim.ApiBase);
        var capped = Deployment("capped", "llama3.1:8b", sim.ApiBase, group: "small", maxInputTokens: 1000);
        var catalog = Catalog(new RouterSettings(), llama, capped);

        await catalog.PollNowAsync(CancellationToken.None);
        Assert.Equal(4096, catalog.ContextLength(llama));
        Assert.Equal(1000, catalog.ContextLength(capped));

        await sim.PostAsync("_sim/config", new { contextLength = 16384 });
        await catalog.PollNowAsync(CancellationToken.None);
        Assert.Equal(4096, catalog.ContextLength(llama));
        Assert.Single(await sim.RequestsAsync("/api/show"));

        await sim.PullModelAsync("llama3.1:8b");
        await catalog.PollNowAsync(CancellationToken.None);
        Assert.Equal(16384, catalog.ContextLength(llama));
    }

    [Fact]
    public async Task DeepChecks_AskOneTokenOrOneEmbedding_AndAFailingModelGoesOut()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b,nomic-embed-text");
        var llama = Deployment("llama", "llama3.1:8b", sim.ApiBase);
        var embed = Deployment("embed", "nomic-embed-text", sim.ApiBase, group: "embed");
        var catalog = Catalog(new RouterSettings { HealthCheckDeep = true, HealthCheckFall = 2 }, llama, embed);
        await catalog.PollNowAsync(CancellationToken.None);

        await catalog.CheckNowAsync(CancellationToken.None);
        await catalog.CheckNowAsync(CancellationToken.None);
        Assert.True(catalog.IsRoutable(llama));
        Assert.True(catalog.IsRoutable(embed));
        var generate = await sim.RequestsAsync("/api/generate");
        Assert.Equal(2, generate.Count);
        Assert.All(generate, r => Assert.Equal(200, (int)r!["status"]!));
        var body = generate[0]!["body"]!;
        Assert.Equal("llama3.1:8b", (string)body["model"]!);
        Assert.False((bool)body["stream"]!);
        Assert.Equal(1, (int)body["options"]!["num_predict"]!);
        Assert.Equal(2, (await sim.RequestsAsync("/api/embed")).Count);

        await sim.PostAsync("_sim/config", new { fault = "error-before", faultStatus = 500 });
        await catalog.CheckNowAsync(CancellationToken.None);
        await catalog.CheckNowAsync(CancellationToken.None);

        Assert.False(catalog.IsRoutable(llama));
        Assert.False(catalog.IsRoutable(embed));
        Assert.True(catalog.IsHealthy(llama.BackendId));
        Assert.Contains("answered 500", catalog.Backends[0].Deployments[0].DeepHealth.LastError);
    }

    [Fact]
    public async Task DiscoveryService_FollowsADeletionWithinAPollInterval()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b,qwen2.5-coder:14b");
        var qwen = Deployment("qwen", "qwen2.5-coder:14b", sim.ApiBase);
        var settings = new RouterSettings { ModelPollInterval = TimeSpan.FromMilliseconds(200), HealthCheckInterval = TimeSpan.FromMilliseconds(200) };
        var catalog = Catalog(settings, qwen);
        var service = new DiscoveryService(catalog, TimeProvider.System, NullLogger<DiscoveryService>.Instance);
        await service.StartAsync(CancellationToken.None);
        try
        {
            await Eventually.TrueAsync(() => catalog.Backends[0].Models.Held is not null, "first poll");
            Assert.True(catalog.IsRoutable(qwen));

            await sim.DeleteModelAsync("qwen2.5-coder:14b");

            await Eventually.TrueAsync(() => !catalog.IsRoutable(qwen), "deletion seen", within: TimeSpan.FromSeconds(5));
        }
        finally
        {
            await service.StopAsync(CancellationToken.None);
        }
    }
}
