using OpenAI;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>Simulators plus one router configured against them, started and stopped together.</summary>
public sealed class RouterEnvironment : IAsyncDisposable
{
    public const string ChatModel = "llama3.1:8b";
    public const string CodeModel = "qwen2.5-coder:14b";
    public const string EmbedModel = "nomic-embed-text";

    private RouterEnvironment(IReadOnlyList<SimulatorProcess> simulators, RouterProcess router)
    {
        Simulators = simulators;
        Router = router;
    }

    public IReadOnlyList<SimulatorProcess> Simulators { get; }

    public RouterProcess Router { get; }

    /// <summary>
    /// The standard layout: simulator A holds chat, code and embed models, simulator B holds the chat model;
    /// "chat" is deployed on both, "code" and "embed" on A.
    /// </summary>
    public static async Task<RouterEnvironment> StartStandardAsync(Func<RouterConfig, RouterConfig>? customize = null)
    {
        var simulators = await StartSimulatorsAsync(
            new SimulatorOptions { Models = [ChatModel, CodeModel, EmbedModel] },
            new SimulatorOptions { Models = [ChatModel] });
        var (a, b) = (simulators[0].ApiBase, simulators[1].ApiBase);
        var config = new RouterConfig
        {
            Deployments =
            [
                new("chat", $"ollama_chat/{ChatModel}", a),
                new("chat", $"ollama_chat/{ChatModel}", b),
                new("code", $"ollama_chat/{CodeModel}", a),
                new("embed", $"ollama/{EmbedModel}", a),
            ],
        };
        return await StartRouterAsync(simulators, customize?.Invoke(config) ?? config);
    }

    /// <summary>One simulator holding the chat model, and "chat" deployed only there, so no other backend can hide its faults.</summary>
    public static async Task<RouterEnvironment> StartSingleBackendAsync(
        SimulatorOptions? simulator = null, Func<RouterConfig, RouterConfig>? customize = null)
    {
        var simulators = await StartSimulatorsAsync(simulator ?? new SimulatorOptions { Models = [ChatModel] });
        var config = new RouterConfig
        {
            Deployments = [new("chat", $"ollama_chat/{ChatModel}", simulators[0].ApiBase)],
        };
        return await StartRouterAsync(simulators, customize?.Invoke(config) ?? config);
    }

    /// <summary>Takes ownership of processes a test started itself.</summary>
    public static RouterEnvironment FromProcesses(IReadOnlyList<SimulatorProcess> simulators, RouterProcess router) =>
        new(simulators, router);

    public SimulatorProcess SimulatorA => Simulators[0];

    public OpenAIClient CreateOpenAIClient(string apiKey = "sk-unused") => Router.CreateOpenAIClient(apiKey);

    /// <summary>Fails with the exit code and log of any process of this environment that is no longer running.</summary>
    public void EnsureRunning()
    {
        var dead = Simulators.Select(s => s.Process).Append(Router.Process).Where(p => p.HasExited).ToList();
        if (dead.Count > 0)
        {
            throw new InvalidOperationException(string.Join(
                Environment.NewLine,
                dead.Select(p => $"{p.Name} (pid {p.Id}) exited with code {p.Exited.Result}:{Environment.NewLine}{p.Output}")));
        }
    }

    public Task ResetSimulatorsAsync() => Task.WhenAll(Simulators.Select(s => s.Control.ResetAsync()));

    public Task ConfigureSimulatorsAsync(SimConfig config) =>
        Task.WhenAll(Simulators.Select(s => s.Control.ConfigureAsync(config)));

    /// <summary>
    /// The generation requests (chat, generate, embed) all simulators recorded, oldest first per simulator;
    /// health probes such as /api/tags or /api/version are left out.
    /// </summary>
    public async Task<IReadOnlyList<SimRequest>> GetBackendRequestsAsync()
    {
        var perSimulator = await Task.WhenAll(Simulators.Select(s => s.Control.GetRequestsAsync()));
        return perSimulator.SelectMany(r => r).Where(r => r.IsGeneration).ToList();
    }

    /// <summary>The stats of all simulators added up.</summary>
    public async Task<SimStats> GetTotalStatsAsync()
    {
        var all = await Task.WhenAll(Simulators.Select(s => s.Control.GetStatsAsync()));
        return new SimStats(
            all.Sum(s => s.Received), all.Sum(s => s.Active), all.Sum(s => s.Completed), all.Sum(s => s.Cancelled),
            all.Sum(s => s.Rejected), all.Sum(s => s.Faulted), all.Sum(s => s.Held));
    }

    /// <summary>Marks every process log, so a test can print only what was logged while it ran.</summary>
    public LogMarks MarkLogs() =>
        new([(Router.Output, "router"), .. Simulators.Select((s, i) => (s.Output, $"simulator {(char)('A' + i)}"))]);

    public async ValueTask DisposeAsync()
    {
        await Router.DisposeAsync();
        foreach (var simulator in Simulators)
        {
            await simulator.DisposeAsync();
        }
    }

    private static async Task<SimulatorProcess[]> StartSimulatorsAsync(params SimulatorOptions[] options)
    {
        var starting = options.Select((o, i) => SimulatorProcess.StartAsync(o, $"simulator {(char)('A' + i)}")).ToArray();
        try
        {
            return await Task.WhenAll(starting);
        }
        catch
        {
            foreach (var started in starting.Where(t => t.IsCompletedSuccessfully))
            {
                await started.Result.DisposeAsync();
            }

            throw;
        }
    }

    private static async Task<RouterEnvironment> StartRouterAsync(SimulatorProcess[] simulators, RouterConfig config)
    {
        try
        {
            return new RouterEnvironment(simulators, await RouterProcess.StartAsync(config));
        }
        catch
        {
            foreach (var simulator in simulators)
            {
                await simulator.DisposeAsync();
            }

            throw;
        }
    }
}
