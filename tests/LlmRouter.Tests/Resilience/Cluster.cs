using LlmRouter.Tests.Infrastructure;
using LlmRouter.Tests.Services;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// Simulators, an optional private Redis and one or more router replicas started from one config: what a
/// resilience test needs to break. Disposing stops everything and writes every process's log to the test output,
/// which xunit shows next to a failed assertion.
/// </summary>
internal sealed class Cluster : IAsyncDisposable
{
    private readonly ITestOutputHelper? _output;
    private readonly List<RouterProcess> _routers = [];

    private Cluster(ITestOutputHelper? output, SimulatorProcess[] simulators, RedisServer? redis)
    {
        _output = output;
        Simulators = simulators;
        Redis = redis;
    }

    public IReadOnlyList<SimulatorProcess> Simulators { get; }

    public IReadOnlyList<RouterProcess> Routers => _routers;

    public RouterProcess Router => _routers[0];

    /// <summary>The private Redis all replicas share; null when the cluster runs without one.</summary>
    public RedisServer? Redis { get; }

    /// <param name="config">Builds the router config from the started simulators; <c>redis_url</c> is added when <paramref name="redis"/>.</param>
    /// <param name="output">Gets every process's whole log at dispose; null for a cluster shared by several tests (see <see cref="MarkLogs"/>).</param>
    public static async Task<Cluster> StartAsync(ITestOutputHelper? output, IReadOnlyList<SimulatorOptions> simulators,
        Func<IReadOnlyList<SimulatorProcess>, RouterConfig> config, int routers = 1, bool redis = false)
    {
        var redisServer = redis ? await RedisServer.StartAsync() : null;
        var starting = simulators.Select((o, i) => SimulatorProcess.StartAsync(o, $"simulator {(char)('A' + i)}")).ToArray();
        try
        {
            await Task.WhenAll(starting);
        }
        catch
        {
            foreach (var started in starting.Where(t => t.IsCompletedSuccessfully)) await started.Result.DisposeAsync();
            if (redisServer is not null) await redisServer.DisposeAsync();
            throw;
        }

        var cluster = new Cluster(output, starting.Select(t => t.Result).ToArray(), redisServer);
        try
        {
            var routerConfig = config(cluster.Simulators);
            if (redisServer is not null)
            {
                routerConfig = routerConfig with
                {
                    General = new Dictionary<string, string>(routerConfig.General) { ["redis_url"] = $"redis://{redisServer.Url}" },
                };
            }

            var yaml = routerConfig.ToYaml();
            var replicas = await Task.WhenAll(Enumerable.Range(0, routers).Select(_ => RouterProcess.StartAsync(yaml)));
            cluster._routers.AddRange(replicas);
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Kills a process the way a crash or <c>kill -9</c> does: no shutdown, no goodbye to anyone.</summary>
    public static async Task KillAsync(ChildProcess process)
    {
        using (var os = System.Diagnostics.Process.GetProcessById(process.Id))
        {
            os.Kill();
        }

        await process.Exited.WaitAsync(TimeSpan.FromSeconds(10));
    }

    /// <summary>Generation requests each simulator has received, in simulator order.</summary>
    public async Task<long[]> ReceivedAsync() =>
        (await Task.WhenAll(Simulators.Select(s => s.Control.GetStatsAsync()))).Select(s => s.Received).ToArray();

    /// <summary>For a shared cluster: marks every log, so a test can write only what was logged while it ran.</summary>
    public LogMarks MarkLogs() =>
        new([.. _routers.Select((r, i) => (r.Output, $"router {i + 1}")), .. Simulators.Select(s => (s.Output, s.Process.Name))]);

    public async ValueTask DisposeAsync()
    {
        foreach (var router in _routers)
        {
            await router.DisposeAsync();
        }

        foreach (var simulator in Simulators)
        {
            await simulator.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }

        for (var i = 0; i < _routers.Count; i++)
        {
            WriteLog($"router {i + 1}", _routers[i].Output);
        }

        foreach (var simulator in Simulators)
        {
            WriteLog(simulator.Process.Name, simulator.Output);
        }
    }

    private void WriteLog(string name, OutputLog log)
    {
        if (_output is null)
        {
            return;
        }

        try
        {
            _output.WriteLine($"----- {name} -----");
            _output.WriteLine(log.Since(0));
        }
        catch (InvalidOperationException)
        {
            // The test has already finished reporting (xunit refuses late output).
        }
    }
}
