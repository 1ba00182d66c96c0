namespace LlmRouter.Tests.Infrastructure;

/// <summary>Options for one simulator process; each maps to a command-line flag.</summary>
public sealed record SimulatorOptions
{
    public IReadOnlyList<string> Models { get; init; } = ["llama3.1:8b"];
    public IReadOnlyList<string>? Loaded { get; init; }
    public int? FirstTokenDelayMs { get; init; }
    public int? TokenIntervalMs { get; init; }
    public int? Tokens { get; init; }
    public int? MaxParallel { get; init; }
    public int? MaxQueue { get; init; }
    public string? Fault { get; init; }
    public int? FaultAfterTokens { get; init; }
    public int? FaultStatus { get; init; }
    public int? FaultCount { get; init; }
    public bool TimestampTokens { get; init; }

    public IEnumerable<string> ToArguments()
    {
        yield return "--port";
        yield return "0";
        yield return "--models";
        yield return string.Join(',', Models);
        if (Loaded is not null)
        {
            yield return "--loaded";
            yield return string.Join(',', Loaded);
        }

        foreach (var (flag, value) in new (string, int?)[]
                 {
                     ("--first-token-delay-ms", FirstTokenDelayMs), ("--token-interval-ms", TokenIntervalMs),
                     ("--tokens", Tokens), ("--max-parallel", MaxParallel), ("--max-queue", MaxQueue),
                     ("--fault-after-tokens", FaultAfterTokens), ("--fault-status", FaultStatus),
                     ("--fault-count", FaultCount),
                 })
        {
            if (value is not null)
            {
                yield return flag;
                yield return value.Value.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        if (Fault is not null)
        {
            yield return "--fault";
            yield return Fault;
        }

        if (TimestampTokens)
        {
            yield return "--timestamp-tokens";
        }
    }
}

/// <summary>A running Ollama simulator on a loopback port the OS chose.</summary>
public sealed class SimulatorProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private const string ListeningPrefix = "LISTENING ";

    private readonly ChildProcess _process;
    private readonly HttpClient _http;

    private SimulatorProcess(ChildProcess process, Uri baseUrl)
    {
        _process = process;
        BaseUrl = baseUrl;
        _http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
        Control = new SimulatorClient(_http);
    }

    /// <summary>For example http://127.0.0.1:41234 (no trailing slash).</summary>
    public Uri BaseUrl { get; }

    public string ApiBase => BaseUrl.GetLeftPart(UriPartial.Authority);

    public SimulatorClient Control { get; }

    public OutputLog Output => _process.Output;

    public ChildProcess Process => _process;

    public static async Task<SimulatorProcess> StartAsync(SimulatorOptions options, string name = "simulator")
    {
        var process = ChildProcess.StartDll(name, RepoPaths.SimulatorDll, options.ToArguments());
        try
        {
            var line = await process.WaitForLineAsync(
                l => l.StartsWith(ListeningPrefix, StringComparison.Ordinal), StartTimeout, "its LISTENING line");
            return new SimulatorProcess(process, new Uri(line[ListeningPrefix.Length..].Trim()));
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _process.DisposeAsync();
    }
}
