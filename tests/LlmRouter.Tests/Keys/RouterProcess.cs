using System.Diagnostics;
using System.Text;
using LlmRouter.Tests.Services;

namespace LlmRouter.Tests.Keys;

/// <summary>The real router (LlmRouter.dll next to the tests) as a child process, with its whole output captured.</summary>
internal sealed class RouterProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private RouterProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public Uri Address { get; }

    public string Output
    {
        get
        {
            lock (_output) return _output.ToString();
        }
    }

    /// <summary>Runs the router to completion (e.g. with --migrate-only); returns its exit code and output.</summary>
    public static async Task<(int ExitCode, string StdOut, string StdErr)> RunAsync(string configPath, IEnumerable<string> extraArgs, TimeSpan timeout)
    {
        using var process = Process.Start(StartInfo(configPath, extraArgs, new Dictionary<string, string>()))!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cancel.Token);
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Starts the router and waits until it answers /health/liveliness.</summary>
    public static async Task<RouterProcess> StartAsync(string configPath, IReadOnlyDictionary<string, string> environment)
    {
        var port = RedisServer.FreeTcpPort();
        var address = new Uri($"http://127.0.0.1:{port}");
        var process = Process.Start(StartInfo(configPath, ["--urls", address.ToString().TrimEnd('/')], environment))!;
        var router = new RouterProcess(process, address);
        using var client = new HttpClient { BaseAddress = address };
        await KeysTestSupport.WaitUntilAsync(async () =>
        {
            if (process.HasExited) Assert.Fail($"the router exited with {process.ExitCode}:\n{router.Output}");
            try
            {
                return (await client.GetAsync("/health/liveliness")).IsSuccessStatusCode;
            }
            catch (HttpRequestException)
            {
                return false;
            }
        }, TimeSpan.FromSeconds(60), "router start-up");
        return router;
    }

    /// <summary>SIGTERM, as an orchestrator stops it, so the logger flushes everything before the output is read.</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited) return;
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString()])) await kill.WaitForExitAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await _process.WaitForExitAsync(timeout.Token);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
    }

    private void Append(string? line)
    {
        if (line is null) return;
        lock (_output) _output.AppendLine(line);
    }

    private static ProcessStartInfo StartInfo(string configPath, IEnumerable<string> args, IReadOnlyDictionary<string, string> environment)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "LlmRouter.dll"));
        info.ArgumentList.Add("--config");
        info.ArgumentList.Add(configPath);
        foreach (var arg in args) info.ArgumentList.Add(arg);
        foreach (var (name, value) in environment) info.Environment[name] = value;
        return info;
    }
}
