using System.Globalization;

namespace LlmRouter.Bench.Services;

/// <summary>The Ollama simulator streaming timestamped tokens: each token's text is the Stopwatch time it was written.</summary>
internal sealed class SimulatorService : IAsyncDisposable
{
    private readonly BenchProcess _process;

    private SimulatorService(BenchProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public static async Task<SimulatorService> StartAsync(int tokens, int intervalMs, int maxParallel)
    {
        var port = BenchProcess.FreePort();
        var process = BenchProcess.Start("simulator", "dotnet",
        [
            RepoPaths.SimulatorDll, "--port", port.ToString(CultureInfo.InvariantCulture), "--models", StaticAnswers.Model,
            "--timestamp-tokens", "--tokens", tokens.ToString(CultureInfo.InvariantCulture),
            "--token-interval-ms", intervalMs.ToString(CultureInfo.InvariantCulture),
            "--max-parallel", maxParallel.ToString(CultureInfo.InvariantCulture), "--max-queue", maxParallel.ToString(CultureInfo.InvariantCulture),
        ], environment: new Dictionary<string, string> { ["DOTNET_gcServer"] = "0", ["Logging__LogLevel__Default"] = "Warning" });
        await process.WaitForPortAsync(port, TimeSpan.FromSeconds(60));
        return new SimulatorService(process, port);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
