using System.Net;
using System.Text.Json.Nodes;
using LlmRouter.Configuration;
using LlmRouter.Discovery;
using LlmRouter.Health;
using LlmRouter.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using static LlmRouter.Tests.Discovery.TestDeployments;

namespace LlmRouter.Tests.Discovery;

/// <summary><c>GET /health/readiness</c> on a router host over a real socket, in front of real simulators.</summary>
public sealed class ReadinessApiTests : IAsyncLifetime
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    // The host's loops run once at start-up; after that only the test's own rounds change anything.
    private static readonly RouterSettings Quiet = new() { ModelPollInterval = TimeSpan.FromHours(1), HealthCheckInterval = TimeSpan.FromHours(1) };
    private readonly List<SimulatorProcess> _simulators = [];
    private WebApplication? _app;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        if (_app is not null) await _app.DisposeAsync();
        foreach (var s in _simulators) await s.DisposeAsync();
    }

    private async Task<SimulatorProcess> StartSimulatorAsync(params string[] arguments)
    {
        var simulator = await SimulatorProcess.StartAsync(arguments);
        _simulators.Add(simulator);
        return simulator;
    }

    private async Task<BackendCatalog> StartRouterAsync(RouterConfig config, Action<IServiceCollection>? configure = null)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        builder.Services.AddLlmRouter(config);
        configure?.Invoke(builder.Services);
        _app = builder.Build();
        _app.MapHealthApi();
        await _app.StartAsync();
        var catalog = _app.Services.GetRequiredService<BackendCatalog>();
        await Eventually.TrueAsync(
            () => catalog.Backends.All(b => b.Health.LastCheckAt is not null && b.Models.LastPollAt is not null),
            "the start-up round of polls and checks");
        return catalog;
    }

    private async Task<(HttpStatusCode Status, JsonNode Body)> GetReadinessAsync()
    {
        using var response = await Http.GetAsync(new Uri(new Uri(_app!.Urls.First()), "/health/readiness"));
        return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync())!);
    }

    [Fact]
    public async Task Readiness_ModelsHeldAndBackendHealthy_200WithEachBackendsState()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b,qwen2.5-coder:14b", "--loaded", "llama3.1:8b");
        var catalog = await StartRouterAsync(Config(Quiet,
            Deployment("chat-1", "llama3.1:8b", sim.ApiBase),
            Deployment("code-1", "qwen2.5-coder:14b", sim.ApiBase, group: "code")));
        await catalog.PollNowAsync(CancellationToken.None);
        await catalog.CheckNowAsync(CancellationToken.None);

        var (status, body) = await GetReadinessAsync();

        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("ready", (string)body["status"]!);
        Assert.Equal(2, (int)body["routable_deployments"]!);
        var backend = body["backends"]![0]!;
        Assert.Equal(sim.ApiBase, (string)backend["api_base"]!);
        Assert.Equal("healthy", (string)backend["status"]!);
        Assert.Equal(0, (int)backend["consecutive_failures"]!);
        Assert.Equal("poll", (string)backend["models_source"]!);
        Assert.Equal(["llama3.1:8b", "qwen2.5-coder:14b"], backend["held_models"]!.AsArray().Select(n => (string)n!).Order());
        Assert.Equal(["llama3.1:8b"], backend["loaded_models"]!.AsArray().Select(n => (string)n!));
        Assert.NotNull(backend["last_poll_at"]);
        Assert.Null(backend["last_poll_error"]);
        var chat = backend["deployments"]![0]!;
        Assert.Equal("chat-1", (string)chat["id"]!);
        Assert.True((bool)chat["routable"]!);
        Assert.True((bool)chat["loaded"]!);
        Assert.Equal(8192, (int)chat["context_length"]!);
        Assert.False((bool)backend["deployments"]![1]!["loaded"]!);
    }

    [Fact]
    public async Task Readiness_NoBackendHoldsAConfiguredModel_503()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b");
        var catalog = await StartRouterAsync(Config(Quiet, Deployment("mistral-1", "mistral:7b", sim.ApiBase)));
        await catalog.PollNowAsync(CancellationToken.None);

        var (status, body) = await GetReadinessAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("not_ready", (string)body["status"]!);
        var deployment = body["backends"]![0]!["deployments"]![0]!;
        Assert.False((bool)deployment["held"]!);
        Assert.False((bool)deployment["routable"]!);
    }

    [Fact]
    public async Task Readiness_BackendGone_ConfigTrustedUntilFallChecksThen503WithTheError()
    {
        var sim = await StartSimulatorAsync();
        var apiBase = sim.ApiBase;
        await sim.KillAsync();
        var catalog = await StartRouterAsync(Config(Quiet with { HealthCheckFall = 2 }, Deployment("chat-1", "llama3.1:8b", apiBase)));
        await catalog.PollNowAsync(CancellationToken.None);

        var (status, body) = await GetReadinessAsync();
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("config", (string)body["backends"]![0]!["models_source"]!);
        Assert.Null(body["backends"]![0]!["held_models"]);
        Assert.NotNull(body["backends"]![0]!["last_poll_error"]);

        await catalog.CheckBackendsAsync(CancellationToken.None);
        await catalog.CheckBackendsAsync(CancellationToken.None);

        (status, body) = await GetReadinessAsync();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        var backend = body["backends"]![0]!;
        Assert.Equal("unhealthy", (string)backend["status"]!);
        Assert.Equal(3, (int)backend["consecutive_failures"]!);
        Assert.NotNull(backend["last_error"]);
    }

    [Fact]
    public async Task Readiness_ComponentNotReady_503WithItsSection()
    {
        var sim = await StartSimulatorAsync("--models", "llama3.1:8b");
        var catalog = await StartRouterAsync(
            Config(Quiet, Deployment("chat-1", "llama3.1:8b", sim.ApiBase)),
            services => services.TryAddEnumerable(ServiceDescriptor.Singleton<IReadinessContributor, DownComponent>()));
        await catalog.PollNowAsync(CancellationToken.None);

        var (status, body) = await GetReadinessAsync();

        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal(1, (int)body["routable_deployments"]!);
        var section = body["components"]!["postgres"]!;
        Assert.False((bool)section["ready"]!);
        Assert.Equal("unreachable", (string)section["status"]!);
    }

    private sealed class DownComponent : IReadinessContributor
    {
        public string Name => "postgres";

        public ValueTask<ReadinessComponent> CheckAsync(CancellationToken cancellationToken) =>
            ValueTask.FromResult(new ReadinessComponent(Ready: false, Status: "unreachable", Error: "connection refused"));
    }
}
