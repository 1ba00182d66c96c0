using System.ClientModel;
using System.ClientModel.Primitives;
using System.Diagnostics;
using OpenAI;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>How to start the router, beyond its config.</summary>
public sealed record RouterLaunch
{
    /// <summary>Extra environment variables for the router process.</summary>
    public IReadOnlyDictionary<string, string>? Environment { get; init; }

    /// <summary>Pass the config path in LLMROUTER_CONFIG instead of --config.</summary>
    public bool ConfigInEnvironment { get; init; }

    /// <summary>The host in --urls; tests always connect through 127.0.0.1.</summary>
    public string ListenHost { get; init; } = "127.0.0.1";
}

/// <summary>A running router on a free loopback port, started from a YAML config written to a temp file.</summary>
public sealed class RouterProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly ChildProcess _process;
    private readonly TempFile _config;

    private RouterProcess(ChildProcess process, TempFile config, Uri baseUrl)
    {
        _process = process;
        _config = config;
        BaseUrl = baseUrl;
        Http = CreateHttpClient();
    }

    /// <summary>For example http://127.0.0.1:41234/ .</summary>
    public Uri BaseUrl { get; }

    /// <summary>The OpenAI SDK endpoint: BaseUrl + v1.</summary>
    public Uri V1Endpoint => new(BaseUrl, "v1");

    /// <summary>A plain client with BaseAddress = <see cref="BaseUrl"/> and no default headers.</summary>
    public HttpClient Http { get; }

    public OutputLog Output => _process.Output;

    public ChildProcess Process => _process;

    public string ConfigPath => _config.Path;

    public static Task<RouterProcess> StartAsync(RouterConfig config, IReadOnlyDictionary<string, string>? environment = null) =>
        StartAsync(config.ToYaml(), new RouterLaunch { Environment = environment });

    public static Task<RouterProcess> StartAsync(string yaml, IReadOnlyDictionary<string, string>? environment = null) =>
        StartAsync(yaml, new RouterLaunch { Environment = environment });

    public static async Task<RouterProcess> StartAsync(string yaml, RouterLaunch launch)
    {
        // The port may be taken between choosing and binding; try a few.
        for (var attempt = 1; ; attempt++)
        {
            var config = new TempFile("config.yaml", yaml);
            var port = FreePort.Next();
            var baseUrl = new Uri($"http://127.0.0.1:{port}/");
            var process = Start(config.Path, port, launch);
            try
            {
                await WaitUntilLiveAsync(process, baseUrl);
                return new RouterProcess(process, config, baseUrl);
            }
            catch (InvalidOperationException) when (attempt < 3 && process.HasExited && AddressInUse(process))
            {
                await process.DisposeAsync();
                config.Dispose();
            }
            catch
            {
                await process.DisposeAsync();
                config.Dispose();
                throw;
            }
        }
    }

    /// <summary>Starts the router with a config expected to be rejected; the caller waits for the exit.</summary>
    public static ChildProcess StartExpectingFailure(string configPath, RouterLaunch? launch = null) =>
        StartExpectingFailure(configPath, FreePort.Next(), launch);

    /// <summary>The same, listening on a given port (one already taken, say).</summary>
    public static ChildProcess StartExpectingFailure(string configPath, int port, RouterLaunch? launch = null) =>
        Start(configPath, port, launch ?? new RouterLaunch());

    /// <summary>One series' value from the router's <c>/metrics</c> (Prometheus text, one unlabelled line per series).</summary>
    public async Task<long> MetricAsync(string name)
    {
        var text = await Http.GetStringAsync("metrics");
        var line = text.Split('\n').Single(l => l.StartsWith(name + " ", StringComparison.Ordinal));
        return long.Parse(line[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>An SDK client against this router: retries off so failures are seen, long network timeout.</summary>
    public OpenAIClient CreateOpenAIClient(string apiKey = "sk-unused") =>
        new(new ApiKeyCredential(apiKey), new OpenAIClientOptions
        {
            Endpoint = V1Endpoint,
            RetryPolicy = new ClientRetryPolicy(0),
            NetworkTimeout = TimeSpan.FromMinutes(2),
        });

    /// <summary>A fresh plain client (own connection pool), e.g. for tests that break connections.</summary>
    public HttpClient CreateHttpClient(HttpMessageHandler? handler = null) =>
        new(handler ?? new SocketsHttpHandler { UseProxy = false, AllowAutoRedirect = false })
        {
            BaseAddress = BaseUrl,
            Timeout = TimeSpan.FromMinutes(2),
        };

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await _process.DisposeAsync();
        _config.Dispose();
    }

    private static ChildProcess Start(string configPath, int port, RouterLaunch launch)
    {
        var environment = new Dictionary<string, string>(launch.Environment ?? new Dictionary<string, string>());
        List<string> args = ["--urls", $"http://{launch.ListenHost}:{port}"];
        if (launch.ConfigInEnvironment)
        {
            environment["LLMROUTER_CONFIG"] = configPath;
        }
        else
        {
            args.InsertRange(0, ["--config", configPath]);
        }

        return ChildProcess.StartDll("router", RepoPaths.RouterDll, args, environment);
    }

    private static bool AddressInUse(ChildProcess process) =>
        process.Output.Lines().Any(l => l.Contains("address already in use", StringComparison.OrdinalIgnoreCase));

    private static async Task WaitUntilLiveAsync(ChildProcess process, Uri baseUrl)
    {
        using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(5) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException(
                    $"The router exited with code {await process.Exited} before it was live.{Environment.NewLine}{process.Output}");
            }

            try
            {
                using var response = await http.GetAsync("health/liveliness");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException)
            {
                // Slow start on a loaded machine; try again until the deadline.
            }

            if (clock.Elapsed > StartTimeout)
            {
                throw new TimeoutException(
                    $"The router was not live within {StartTimeout.TotalSeconds:0} s.{Environment.NewLine}{process.Output}");
            }

            await Task.Delay(50);
        }
    }
}
