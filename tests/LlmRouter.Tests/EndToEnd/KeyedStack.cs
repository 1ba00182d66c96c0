using System.Net.Http.Headers;
using LlmRouter.Tests.Infrastructure;
using LlmRouter.Tests.Keys;
using RouterProcess = LlmRouter.Tests.Infrastructure.RouterProcess;
using LlmRouter.Tests.Services;
using Xunit.Abstractions;

namespace LlmRouter.Tests.EndToEnd;

/// <summary>How to start a <see cref="KeyedStack"/>.</summary>
internal sealed record StackOptions
{
    public int Routers { get; init; } = 2;

    public SimulatorOptions Simulator { get; init; } = new() { Models = [KeyedStack.ChatModel, KeyedStack.CodeModel], MaxParallel = 64 };

    /// <summary>Extra <c>general_settings</c> entries for every router (key → YAML value).</summary>
    public IReadOnlyDictionary<string, string> General { get; init; } = new Dictionary<string, string>();

    /// <summary><c>router_settings</c> entries for every router (key → YAML value).</summary>
    public IReadOnlyDictionary<string, string> Router { get; init; } = new Dictionary<string, string>();
}

/// <summary>
/// What a key's request meets in production: a private PostgreSQL and Redis, one Ollama simulator holding two models
/// ("chat" and "code"), and router replicas sharing all three, each with its own spill file. The routers are the
/// real process (LlmRouter.dll), configured with a master key, keys in Postgres and limits in Redis.
/// </summary>
internal sealed class KeyedStack : IAsyncDisposable
{
    public const string MasterKey = "sk-e2e-master-key-0123456789";
    public const string ChatModel = "llama3.1:8b";
    public const string CodeModel = "qwen2.5-coder:14b";
    public const string ChatDeployment = "sim-chat";

    private readonly StackOptions _options;
    private readonly List<RouterProcess> _routers = [];
    private readonly string _spillDirectory = Path.Combine(Path.GetTempPath(), "llmr-e2e-" + Guid.NewGuid().ToString("N")[..12]);

    private KeyedStack(StackOptions options, PostgresServer postgres, RedisServer redis, SimulatorProcess simulator)
    {
        _options = options;
        Postgres = postgres;
        Redis = redis;
        Simulator = simulator;
        Usage = new UsageTable(postgres.ConnectionString);
        Directory.CreateDirectory(_spillDirectory);
    }

    public PostgresServer Postgres { get; }

    public RedisServer Redis { get; }

    public SimulatorProcess Simulator { get; }

    public IReadOnlyList<RouterProcess> Routers => _routers;

    /// <summary>Direct reads of the usage tables, as an auditor would check them.</summary>
    public UsageTable Usage { get; }

    public static async Task<KeyedStack> StartAsync(StackOptions? options = null)
    {
        options ??= new StackOptions();
        var postgres = await PostgresServer.StartAsync();
        RedisServer? redis = null;
        SimulatorProcess? simulator = null;
        try
        {
            redis = await RedisServer.StartAsync();
            simulator = await SimulatorProcess.StartAsync(options.Simulator);
            var stack = new KeyedStack(options, postgres, redis, simulator);
            try
            {
                await Task.WhenAll(Enumerable.Range(0, options.Routers).Select(_ => stack.StartRouterAsync()));
                await stack.WaitUntilReadyAsync();
                return stack;
            }
            catch
            {
                await stack.DisposeAsync();
                throw;
            }
        }
        catch when (simulator is null)
        {
            if (redis is not null) await redis.DisposeAsync();
            await postgres.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts one more replica (after one was stopped, say); it joins the same Postgres, Redis and simulator.</summary>
    public async Task<RouterProcess> StartRouterAsync(IReadOnlyDictionary<string, string>? general = null)
    {
        var settings = new Dictionary<string, string>
        {
            ["database_url"] = Postgres.Url,
            ["redis_url"] = $"redis://{Redis.Url}",
            ["usage_flush_interval"] = "0.2",
            ["usage_spill_path"] = Path.Combine(_spillDirectory, $"spill-{Guid.NewGuid():N}.jsonl"),
        };
        foreach (var (key, value) in _options.General) settings[key] = value;
        foreach (var (key, value) in general ?? new Dictionary<string, string>()) settings[key] = value;
        var config = new RouterConfig
        {
            MasterKey = MasterKey,
            Deployments =
            [
                new("chat", $"ollama_chat/{ChatModel}", Simulator.ApiBase, ChatDeployment),
                new("code", $"ollama_chat/{CodeModel}", Simulator.ApiBase, "sim-code"),
            ],
            General = settings,
            Router = new Dictionary<string, string>(_options.Router),
        };
        var router = await RouterProcess.StartAsync(config);
        lock (_routers) _routers.Add(router);
        // Migrations run in the background at start-up; key endpoints answer 503 until they have.
        using var admin = AdminClient(router);
        await Eventually.UntilAsync(async () => (await admin.GetAsync("admin/keys?limit=1")).StatusCode, s => s == System.Net.HttpStatusCode.OK,
            "the key endpoints to be ready (migrations applied)", TimeSpan.FromSeconds(60));
        return router;
    }

    /// <summary>A client that authenticates with the master key.</summary>
    public static HttpClient AdminClient(RouterProcess router)
    {
        var client = router.CreateHttpClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", MasterKey);
        return client;
    }

    /// <summary>Mints a key through <c>POST /admin/keys</c> on <paramref name="router"/>.</summary>
    public static async Task<MintedKey> MintAsync(RouterProcess router, object settings)
    {
        using var admin = AdminClient(router);
        var (status, body) = await admin.PostJsonAsync("admin/keys", settings);
        Assert.True(status == 201, $"mint: {status} {body}");
        return new MintedKey(Guid.Parse(body.GetProperty("id").GetString()!), body.GetProperty("key").GetString()!,
            DateTimeOffset.Parse(body.GetProperty("created_at").GetString()!, System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// Each replica listens for key changes on Redis before the tests rely on it: a key blocked on the first replica
    /// must be refused by every other one (which had it cached) before the stack counts as ready.
    /// </summary>
    private async Task WaitUntilReadyAsync()
    {
        if (_routers.Count < 2) return;
        var probe = await MintAsync(_routers[0], new { alias = "readiness-probe-" + Guid.NewGuid().ToString("N")[..8] });
        foreach (var router in _routers)
        {
            var answer = await KeyedClient.ChatAsync(router, probe.Secret, new ChatCall { MaxTokens = 1 });
            Assert.True(answer.Status == 200, $"probe on {router.BaseUrl}: {answer}");
        }
        using var admin = AdminClient(_routers[0]);
        var (status, body) = await admin.PostJsonAsync($"admin/keys/{probe.Id}/revoke");
        Assert.True(status == 200, $"revoke probe: {status} {body}");
        foreach (var router in _routers.Skip(1))
        {
            await Eventually.UntilAsync(() => KeyedClient.ModelsStatusAsync(router, probe.Secret), s => s == 401,
                "every replica to receive key changes through Redis", TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>Writes each process's log to the test output (xunit shows it next to a failure).</summary>
    public void WriteLogs(ITestOutputHelper output, int tailLines = 80)
    {
        try
        {
            for (var i = 0; i < _routers.Count; i++)
            {
                output.WriteLine($"----- router {i + 1} (last {tailLines} lines) -----");
                foreach (var line in _routers[i].Output.Lines().TakeLast(tailLines)) output.WriteLine(line);
            }
        }
        catch (InvalidOperationException)
        {
            // The test has finished reporting already.
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var router in _routers) await router.DisposeAsync();
        await Simulator.DisposeAsync();
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
        try { Directory.Delete(_spillDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}

/// <summary>A freshly minted key: its id, its secret (shown once) and when it was created (quota periods count from then).</summary>
internal sealed record MintedKey(Guid Id, string Secret, DateTimeOffset CreatedAt);
