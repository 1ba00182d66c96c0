using System.Diagnostics;
using System.Net.Sockets;

namespace LlmRouter.Bench;

/// <summary>Starts the simulator and the router from their Release builds on free loopback ports.</summary>
internal sealed class Launched(Process process, Uri baseUrl) : IAsyncDisposable
{
    public Process Process { get; } = process;
    public Uri BaseUrl { get; } = baseUrl;

    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
                return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture) * 1024;
        }
        return 0;
    }

    public static string RepoRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LlmRouter.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("run from inside the repository");
    }

    public static async Task<Launched> SimulatorAsync(params string[] args)
    {
        var port = FreePort();
        var dll = Path.Combine(RepoRoot(), "tests/OllamaSimulator/bin/Release/net10.0/OllamaSimulator.dll");
        var launched = Start(dll, ["--port", port.ToString(), .. args], port);
        await WaitAsync(launched, "/");
        return launched;
    }

    public static async Task<Launched> RouterAsync(string yaml)
    {
        var port = FreePort();
        var config = Path.Combine(Path.GetTempPath(), $"llmrouter-bench-{port}.yaml");
        await File.WriteAllTextAsync(config, yaml);
        var dll = Path.Combine(RepoRoot(), "src/LlmRouter/bin/Release/net10.0/LlmRouter.dll");
        var launched = Start(dll, ["--config", config, "--urls", $"http://127.0.0.1:{port}"], port);
        await WaitAsync(launched, "/health/liveliness");
        return launched;
    }

    private static Launched Start(string dll, string[] args, int port)
    {
        var info = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        info.ArgumentList.Add(dll);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var process = Process.Start(info)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { Length: > 0 } line) Console.Error.WriteLine(line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new Launched(process, new Uri($"http://127.0.0.1:{port}/"));
    }

    private static async Task WaitAsync(Launched launched, string path)
    {
        using var http = new HttpClient();
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < TimeSpan.FromSeconds(60))
        {
            try
            {
                using var response = await http.GetAsync(new Uri(launched.BaseUrl, path));
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{launched.BaseUrl} did not come up");
    }

    private static int FreePort()
    {
        var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    public ValueTask DisposeAsync()
    {
        if (!Process.HasExited) Process.Kill(entireProcessTree: true);
        Process.Dispose();
        return ValueTask.CompletedTask;
    }
}
