using System.Diagnostics;

namespace LlmRouter.Tests.Infrastructure;

/// <summary>
/// A `dotnet &lt;dll&gt; args…` child process whose output goes to a bounded <see cref="OutputLog"/>
/// and whose whole process tree is killed on dispose.
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly TaskCompletionSource<int> _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private ChildProcess(Process process, string name)
    {
        _process = process;
        Name = name;
    }

    public string Name { get; }

    public OutputLog Output { get; } = new();

    public int Id => _process.Id;

    /// <summary>Completes with the exit code when the process ends.</summary>
    public Task<int> Exited => _exited.Task;

    public bool HasExited => _exited.Task.IsCompleted;

    public static ChildProcess StartDll(
        string name, string dll, IEnumerable<string> args, IReadOnlyDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        // Children must not inherit anything that changes where or how they listen.
        info.Environment.Remove("ASPNETCORE_URLS");
        info.Environment.Remove("DOTNET_URLS");
        info.Environment.Remove("ASPNETCORE_HTTP_PORTS");
        info.Environment.Remove("LLMROUTER_CONFIG");
        info.Environment.Remove("LLMROUTER_MASTER_KEY");
        info.Environment["DOTNET_NOLOGO"] = "1";
        if (environment is not null)
        {
            foreach (var (key, value) in environment)
            {
                info.Environment[key] = value;
            }
        }

        var process = new Process { StartInfo = info, EnableRaisingEvents = true };
        var child = new ChildProcess(process, name);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                child.Output.Append("out", e.Data);
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                child.Output.Append("err", e.Data);
            }
        };
        process.Exited += (_, _) => child.OnExited();

        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return child;
    }

    /// <summary>
    /// Waits for an output line; fails with the process output if the process exits first or the deadline passes.
    /// </summary>
    public async Task<string> WaitForLineAsync(Func<string, bool> match, TimeSpan timeout, string what)
    {
        var line = Output.WaitForLineAsync(match);
        var finished = await Task.WhenAny(line, Exited, Task.Delay(timeout));
        if (finished == line)
        {
            return await line;
        }

        var reason = finished == Exited ? $"exited with code {await Exited}" : $"did not print it within {timeout.TotalSeconds:0} s";
        throw new InvalidOperationException($"{Name}: waiting for {what}, but the process {reason}.{Environment.NewLine}{Output}");
    }

    /// <summary>Sends SIGTERM, as a service manager or container runtime does to stop the process gracefully.</summary>
    public async Task TerminateAsync()
    {
        using var kill = Process.Start("kill", ["-TERM", Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await kill.WaitForExitAsync();
        if (kill.ExitCode != 0 && !HasExited)
        {
            throw new InvalidOperationException($"kill -TERM {Id} failed with exit code {kill.ExitCode}.");
        }
    }

    /// <summary>Waits for the process to exit; returns null if it is still running at the deadline.</summary>
    public async Task<int?> WaitForExitAsync(TimeSpan timeout)
    {
        var finished = await Task.WhenAny(Exited, Task.Delay(timeout));
        return finished == Exited ? await Exited : null;
    }

    public async ValueTask DisposeAsync()
    {
        if (!HasExited)
        {
            try
            {
                _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // Exited between the check and the kill.
            }

            await WaitForExitAsync(TimeSpan.FromSeconds(10));
        }

        _process.Dispose();
    }

    private void OnExited()
    {
        // WaitForExit() (no timeout) also waits for the redirected streams to reach EOF,
        // so the log is complete when Exited completes.
        _process.WaitForExit();
        _exited.TrySetResult(_process.ExitCode);
    }
}
