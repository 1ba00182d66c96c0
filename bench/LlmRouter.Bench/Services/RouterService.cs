using System.Globalization;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace LlmRouter.Bench.Services;

/// <summary>
/// LlmRouter as shipped (Release build), pinned to the proxy core, with every feature of the full path on: Redis
/// live state, Postgres for keys and usage, and a minted virtual key with rpm/tpm limits.
/// </summary>
internal sealed class RouterService : IAsyncDisposable
{
    public const string MasterKey = "sk-bench-master-0123456789abcdef";
    private readonly BenchProcess _process;
    private readonly HttpClient _http;

    private RouterService(BenchProcess process, int port)
    {
        _process = process;
        Port = port;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}/"), Timeout = TimeSpan.FromSeconds(30) };
    }

    public int Port { get; }
    public BenchProcess Process => _process;

    /// <param name="groups">Logical model name → backend port.</param>
    public static async Task<RouterService> StartAsync(string workDir, IReadOnlyDictionary<string, int> groups, string? redisUrl, string? databaseUrl, int cpu,
        string name = "router")
    {
        var port = BenchProcess.FreePort();
        var yaml = new StringBuilder("model_list:\n");
        foreach (var (group, backendPort) in groups)
        {
            yaml.Append(CultureInfo.InvariantCulture, $"  - model_name: {group}\n    litellm_params: {{ model: ollama_chat/{StaticAnswers.Model}, api_base: http://127.0.0.1:{backendPort} }}\n");
        }
        // Without Redis or Postgres the router runs on process-local state and the master key only.
        yaml.Append(CultureInfo.InvariantCulture, $"general_settings:\n  master_key: {MasterKey}\n  usage_spill_path: {Path.Combine(workDir, name + "-usage-spill.jsonl")}\n");
        if (redisUrl is not null) yaml.Append(CultureInfo.InvariantCulture, $"  redis_url: {redisUrl}\n");
        if (databaseUrl is not null) yaml.Append(CultureInfo.InvariantCulture, $"  database_url: {databaseUrl}\n");
        var config = Path.Combine(workDir, name + ".yaml");
        await File.WriteAllTextAsync(config, yaml.ToString());
        var process = BenchProcess.Start("llmrouter", "dotnet", [RepoPaths.RouterDll, "--config", config, "--urls", $"http://127.0.0.1:{port}"], cpu,
            workingDirectory: workDir);
        await process.WaitForPortAsync(port, TimeSpan.FromSeconds(90));
        var router = new RouterService(process, port);
        await router.WaitHealthyAsync();
        return router;
    }

    private async Task WaitHealthyAsync()
    {
        for (var i = 0; i < 300; i++)
        {
            try
            {
                using var response = await _http.GetAsync("health/liveliness");
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"the router did not become live:\n{_process.RecentOutput}");
    }

    /// <summary>
    /// A virtual key with rpm and tpm limits far above what the bench sends, so the limits are checked on every request
    /// but never refuse one. Null when this build has no key API (then the bench uses the master key and says so).
    /// </summary>
    public async Task<string?> MintKeyAsync()
    {
        // 503 while the schema migrations run at start-up.
        for (var attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "admin/keys")
            {
                Content = new StringContent("""{"alias":"bench","rpm_limit":1000000000,"tpm_limit":1000000000000}""", Encoding.UTF8, "application/json"),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", MasterKey);
            using var response = await _http.SendAsync(request);
            if (response.StatusCode == System.Net.HttpStatusCode.NotFound) return null;
            var body = await response.Content.ReadAsStringAsync();
            if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable && attempt < 300)
            {
                await Task.Delay(200);
                continue;
            }
            if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"POST /admin/keys answered {(int)response.StatusCode}: {body}");
            using var json = JsonDocument.Parse(body);
            return json.RootElement.GetProperty("key").GetString();
        }
    }

    /// <summary>One counter from GET /metrics (Prometheus text), or null when the endpoint or the counter is missing.</summary>
    public async Task<double?> MetricAsync(string name) => (await MetricsAsync(name))[0];

    /// <summary>Several series from one GET /metrics, in the order asked; null for each the endpoint lacks.</summary>
    public async Task<double?[]> MetricsAsync(params string[] names)
    {
        var values = new double?[names.Length];
        using var response = await _http.GetAsync("metrics");
        if (!response.IsSuccessStatusCode) return values;
        foreach (var line in (await response.Content.ReadAsStringAsync()).Split('\n'))
        {
            for (var i = 0; i < names.Length; i++)
            {
                if (values[i] is null && (line.StartsWith(names[i] + " ", StringComparison.Ordinal) || line.StartsWith(names[i] + "{", StringComparison.Ordinal)))
                    values[i] = double.Parse(line[(line.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture);
            }
        }
        return values;
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync();
    }
}
