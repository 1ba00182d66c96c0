using System.Diagnostics;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json.Nodes;

namespace LlmRouter.Tests.Discovery;

/// <summary>
/// One Ollama simulator process on loopback, killed on dispose. <see cref="KillAsync"/> and <see cref="RestartAsync"/>
/// take it away and bring it back on the same port, as a crashed and restarted Ollama.
/// </summary>
internal sealed class SimulatorProcess : IAsyncDisposable
{
    private static readonly HttpClient Http = new() { Timeout = TimeSpan.FromSeconds(10) };
    private readonly string[] _arguments;
    private Process? _process;

    private SimulatorProcess(string[] arguments) => _arguments = arguments;

    public int Port { get; private set; }
    public Uri BaseUri => new($"http://127.0.0.1:{Port}/");
    public string ApiBase => BaseUri.AbsoluteUri;

    /// <param name="arguments">Simulator arguments other than <c>--port</c>, e.g. <c>--models a,b</c>.</param>
    public static async Task<SimulatorProcess> StartAsync(params string[] arguments)
    {
        var simulator = new SimulatorProcess(arguments);
        await simulator.LaunchAsync(port: 0);
        return simulator;
    }

    public async Task KillAsync()
    {
        if (_process is { } process)
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            process.Dispose();
        }
        _process = null;
    }

    public async Task RestartAsync()
    {
        await KillAsync();
        // The port was just freed; give a racing bind a few tries rather than fail the test on it.
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await LaunchAsync(Port);
                return;
            }
            catch (InvalidOperationException) when (attempt < 5)
            {
                await Task.Delay(200 * attempt);
            }
        }
    }

    public async Task<JsonNode?> PostAsync(string path, object body)
    {
        using var response = await Http.PostAsJsonAsync(new Uri(BaseUri, path), body);
        var text = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"simulator {path} answered {(int)response.StatusCode}: {text}");
        return text.Length == 0 ? null : JsonNode.Parse(text);
    }

    public async Task DeleteModelAsync(string model)
    {
        using var request = new HttpRequestMessage(HttpMethod.Delete, new Uri(BaseUri, "api/delete")) { Content = JsonContent.Create(new { model }) };
        using var response = await Http.SendAsync(request);
        if (!response.IsSuccessStatusCode) throw new InvalidOperationException($"delete {model} answered {(int)response.StatusCode}");
    }

    public Task PullModelAsync(string model) => PostAsync("api/pull", new { model, stream = false });

    /// <summary>The requests the simulator saw on one path (<c>/_sim/requests?path=…</c>).</summary>
    public async Task<JsonArray> RequestsAsync(string path)
    {
        var text = await Http.GetStringAsync(new Uri(BaseUri, $"_sim/requests?path={Uri.EscapeDataString(path)}"));
        return JsonNode.Parse(text)!.AsArray();
    }

    public async ValueTask DisposeAsync() => await KillAsync();

    private async Task LaunchAsync(int port)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(SimulatorDll.Value);
        info.ArgumentList.Add("--port");
        info.ArgumentList.Add(port.ToString());
        foreach (var a in _arguments) info.ArgumentList.Add(a);

        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the simulator");
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) stderr.AppendLine(e.Data); };
        process.BeginErrorReadLine();
        _process = process;

        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            while (await process.StandardOutput.ReadLineAsync(timeout.Token) is { } line)
            {
                if (!line.StartsWith("LISTENING ", StringComparison.Ordinal)) continue;
                Port = new Uri(line["LISTENING ".Length..].Trim()).Port;
                _ = DrainAsync(process.StandardOutput);
                return;
            }
        }
        catch (OperationCanceledException)
        {
        }
        await KillAsync();
        string errors;
        lock (stderr) errors = stderr.ToString();
        throw new InvalidOperationException($"the simulator did not print LISTENING (port {port}): {errors}");
    }

    // Keeps reading so a chatty simulator never blocks on a full pipe.
    private static async Task DrainAsync(StreamReader output)
    {
        try
        {
            while (await output.ReadLineAsync() is not null)
            {
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException)
        {
        }
    }

    private static readonly Lazy<string> SimulatorDll = new(() =>
    {
        var configuration = typeof(SimulatorProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "LlmRouter.sln"))) dir = dir.Parent;
        if (dir is null) throw new InvalidOperationException($"no LlmRouter.sln above {AppContext.BaseDirectory}");
        var dll = Path.Combine(dir.FullName, "tests", "OllamaSimulator", "bin", configuration, "net10.0", "OllamaSimulator.dll");
        return File.Exists(dll) ? dll : throw new InvalidOperationException($"{dll} is missing; build the solution first");
    });
}
