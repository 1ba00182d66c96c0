using LlmRouter.Bench.Phases;

namespace LlmRouter.Bench.Services;

/// <summary>
/// Everything a run needs, on loopback: the proxies under test pinned to <see cref="ProxyCpu"/>; the load client (this
/// process), the backends, Redis and Postgres on <see cref="ClientCpu"/>.
/// </summary>
internal sealed class BenchEnvironment : IAsyncDisposable
{
    public const int ClientCpu = 0;
    public const int ProxyCpu = 1;
    public const int StreamTokens = 64;
    public const int StreamIntervalMs = 20;

    private readonly List<IAsyncDisposable> _owned = [];

    public required string WorkDir { get; init; }
    public required BenchPath[] Paths { get; init; }
    public required RouterService Router { get; init; }
    public required NginxService NginxProxy { get; init; }
    public required PostgresService Postgres { get; init; }
    public required RedisService Redis { get; init; }
    /// <summary>How the router path authenticates: "virtual key (rpm/tpm limits)" or "master key".</summary>
    public required string KeyKind { get; init; }

    public BenchPath Path(string name) => Paths.First(p => p.Name == name);

    public static async Task<BenchEnvironment> StartAsync(Action<string> log)
    {
        var workDir = Directory.CreateTempSubdirectory("llmrouter-bench-").FullName;
        // The postgres user must reach its data directory inside.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(workDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
            UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
        var owned = new List<IAsyncDisposable>();
        try
        {
            log("starting Redis and PostgreSQL (CPU 0) ...");
            var redis = await RedisService.StartAsync();
            owned.Add(redis);
            var postgres = await PostgresService.StartAsync(workDir);
            owned.Add(postgres);

            log("starting the static backend (nginx, CPU 0) and the streaming simulator (CPU 0) ...");
            var staticPort = BenchProcess.FreePort();
            owned.Add(await NginxService.StaticBackendAsync(workDir, staticPort, ClientCpu));
            var simulator = await SimulatorService.StartAsync(StreamTokens, StreamIntervalMs, maxParallel: 4096);
            owned.Add(simulator);

            log("starting the proxies under test (CPU 1): LlmRouter and nginx ...");
            var router = await RouterService.StartAsync(workDir, new Dictionary<string, int> { ["chat"] = staticPort, ["stream"] = simulator.Port },
                redis.Url, postgres.Url, ProxyCpu);
            owned.Add(router);
            var (nginxStatic, nginxStream) = (BenchProcess.FreePort(), BenchProcess.FreePort());
            var nginx = await NginxService.ProxyAsync(workDir, [(nginxStatic, staticPort), (nginxStream, simulator.Port)], ProxyCpu);
            owned.Add(nginx);

            var key = await router.MintKeyAsync();
            log(key is null ? "this build has no /admin/keys: the router path uses the master key (no key limits)" : "minted a virtual key with rpm/tpm limits");
            BenchPath[] paths =
            [
                BenchPath.Create(BenchPath.Direct, staticPort, simulator.Port, StaticAnswers.Model, StaticAnswers.Model, null, null),
                BenchPath.Create(BenchPath.Router, router.Port, router.Port, "chat", "stream", key ?? RouterService.MasterKey, router.Process),
                BenchPath.Create(BenchPath.Nginx, nginxStatic, nginxStream, StaticAnswers.Model, StaticAnswers.Model, null, nginx.Process),
            ];
            var environment = new BenchEnvironment
            {
                WorkDir = workDir, Paths = paths, Router = router, NginxProxy = nginx, Postgres = postgres, Redis = redis,
                KeyKind = key is null ? "master key (no /admin/keys in this build)" : "virtual key with rpm/tpm limits",
            };
            environment._owned.AddRange(owned);
            return environment;
        }
        catch
        {
            owned.Reverse();
            foreach (var service in owned) await service.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _owned.Reverse();
        foreach (var service in _owned)
        {
            try
            {
                await service.DisposeAsync();
            }
            catch (Exception e) when (e is IOException or InvalidOperationException)
            {
            }
        }
        try
        {
            Directory.Delete(WorkDir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
