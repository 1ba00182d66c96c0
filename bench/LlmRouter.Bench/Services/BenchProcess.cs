using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace LlmRouter.Bench.Services;

/// <summary>
/// A child process, optionally pinned to one CPU with <c>taskset</c>; its output is kept (last lines) for diagnosis and
/// it is killed, with its children, on dispose.
/// </summary>
internal sealed class BenchProcess : IAsyncDisposable
{
    private readonly ConcurrentQueue<string> _output = new();
    private readonly Process _process;

    private BenchProcess(string name, Process process)
    {
        Name = name;
        _process = process;
    }

    public string Name { get; }
    public int Id => _process.Id;
    public bool HasExited => _process.HasExited;
    public event Action<string>? Line;

    public static BenchProcess Start(string name, string program, IEnumerable<string> args, int? cpu = null,
        IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var info = new ProcessStartInfo(cpu is null ? program : "taskset")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        if (cpu is { } c)
        {
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(c.ToString(CultureInfo.InvariantCulture));
            info.ArgumentList.Add(program);
        }
        foreach (var arg in args) info.ArgumentList.Add(arg);
        if (environment is not null)
        {
            foreach (var (key, value) in environment) info.Environment[key] = value;
        }
        var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        var launched = new BenchProcess(name, process);
        process.OutputDataReceived += (_, e) => launched.Keep(e.Data);
        process.ErrorDataReceived += (_, e) => launched.Keep(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return launched;
    }

    private void Keep(string? line)
    {
        if (line is null) return;
        _output.Enqueue(line);
        while (_output.Count > 200) _output.TryDequeue(out _);
        Line?.Invoke(line);
    }

    public string RecentOutput => string.Join('\n', _output);

    /// <summary>Resident memory of the process and its direct children (nginx's master and worker), in bytes.</summary>
    /// <summary>CPU time (user + system) of the process and its direct children so far.</summary>
    public TimeSpan CpuTime()
    {
        long ticks = CpuTicks(_process.Id);
        foreach (var child in Children(_process.Id)) ticks += CpuTicks(child);
        return TimeSpan.FromSeconds(ticks / (double)ClockTicksPerSecond);
    }

    private static readonly long ClockTicksPerSecond = ReadClockTicks();

    private static long ReadClockTicks()
    {
        try
        {
            return long.Parse(RunAsync("getconf", "CLK_TCK").GetAwaiter().GetResult().Trim(), CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException or System.ComponentModel.Win32Exception)
        {
            return 100;
        }
    }

    private static long CpuTicks(int pid)
    {
        try
        {
            // Fields after the command name (which may hold spaces): utime and stime are the 12th and 13th.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
        }
        catch (IOException)
        {
            return 0;
        }
    }

    public long RssBytes() => StatusBytes("VmRSS:");

    /// <summary>
    /// One memory line of <c>/proc/PID/status</c> (<c>VmRSS:</c>, <c>RssAnon:</c>, <c>RssFile:</c>, <c>RssShmem:</c>) in
    /// bytes, summed over the process and its children (taskset's child when pinned).
    /// </summary>
    public long StatusBytes(string field)
    {
        long total = StatusBytes(_process.Id, field);
        foreach (var child in Children(_process.Id)) total += StatusBytes(child, field);
        return total;
    }

    private static long StatusBytes(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                    return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }
        catch (IOException)
        {
        }
        return 0;
    }

    private static IEnumerable<int> Children(int pid)
    {
        var path = $"/proc/{pid}/task/{pid}/children";
        if (!File.Exists(path)) return [];
        return File.ReadAllText(path).Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(s => int.Parse(s, CultureInfo.InvariantCulture));
    }

    public async Task WaitForPortAsync(int port, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if (HasExited) throw new InvalidOperationException($"{Name} exited with {_process.ExitCode}:\n{RecentOutput}");
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"{Name} did not open port {port} within {timeout}:\n{RecentOutput}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
        }
        _process.Dispose();
    }

    public static int FreePort()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>Runs a short command to completion; throws with its output when it fails.</summary>
    public static async Task<string> RunAsync(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = "/tmp" };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited {process.ExitCode}: {await stderr}{await stdout}");
        return await stdout;
    }
}
