using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;

namespace LlmRouter.Tests.Services;

/// <summary>
/// A private redis-server on a free loopback port, without persistence (as the router must tolerate),
/// that a test can stop and start again on the same port.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private Process? _process;

    private RedisServer(int port) => Port = port;

    public int Port { get; }
    public string Url => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync()
    {
        var server = new RedisServer(FreeTcpPort());
        await server.StartAgainAsync();
        return server;
    }

    public async Task StartAgainAsync()
    {
        var info = new ProcessStartInfo("redis-server")
        {
            ArgumentList = { "--port", Port.ToString(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no" },
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        _process = Process.Start(info) ?? throw new InvalidOperationException("redis-server did not start (is it installed?)");
        _process.OutputDataReceived += (_, _) => { };
        _process.ErrorDataReceived += (_, _) => { };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await WaitForPortAsync(Port, open: true, TimeSpan.FromSeconds(15));
    }

    /// <summary>Kills the server, losing every key, as a crash or restart without persistence would.</summary>
    public async Task StopAsync()
    {
        if (_process is { HasExited: false } process)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
        }
        _process = null;
        await WaitForPortAsync(Port, open: false, TimeSpan.FromSeconds(15));
    }

    /// <summary>
    /// Runs one redis-cli command and reads its reply as a number (0 when it is empty or not a number). A fresh
    /// connection per call, so nothing in a test has to reconnect after a restart.
    /// </summary>
    public async Task<long> CliNumberAsync(params string[] command)
    {
        var text = await CliAsync(["--raw", .. command]);
        return long.TryParse(text.Trim(), CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    /// <summary>How many clients the server has subscribed to <paramref name="channel"/> (PUBSUB NUMSUB).</summary>
    public async Task<long> SubscribersAsync(string channel)
    {
        var lines = (await CliAsync(["--raw", "PUBSUB", "NUMSUB", channel])).Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.Length == 2 && long.TryParse(lines[1], CultureInfo.InvariantCulture, out var n) ? n : 0;
    }

    /// <summary>Runs redis-cli against this server and returns what it printed.</summary>
    private async Task<string> CliAsync(string[] arguments)
    {
        var info = new ProcessStartInfo("redis-cli") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in (string[])["-p", Port.ToString(CultureInfo.InvariantCulture), .. arguments]) info.ArgumentList.Add(arg);
        using var process = Process.Start(info) ?? throw new InvalidOperationException("redis-cli did not start");
        var text = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return text;
    }

    /// <summary>
    /// Commands Redis has run, by name, counting those run inside scripts (<c>INFO commandstats</c>), without the
    /// script calls themselves and this query's own.
    /// </summary>
    public async Task<Dictionary<string, long>> CommandCallsAsync()
    {
        var text = await CliAsync(["INFO", "commandstats"]);
        var calls = new Dictionary<string, long>();
        foreach (var line in text.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            // cmdstat_zadd:calls=3,usec=10,...
            if (!line.StartsWith("cmdstat_", StringComparison.Ordinal)) continue;
            var name = line["cmdstat_".Length..line.IndexOf(':', StringComparison.Ordinal)];
            if (name is "evalsha" or "eval" or "info" or "ping" or "client|setname" or "config|get" or "cluster|info" or "echo") continue;
            var count = line[(line.IndexOf("calls=", StringComparison.Ordinal) + 6)..];
            calls[name] = long.Parse(count[..count.IndexOf(',', StringComparison.Ordinal)], CultureInfo.InvariantCulture);
        }
        return calls;
    }

    /// <summary>Bytes Redis has read from its clients since it started (<c>INFO stats</c>).</summary>
    public async Task<long> InputBytesAsync()
    {
        var text = await CliAsync(["INFO", "stats"]);
        const string field = "total_net_input_bytes:";
        var line = text.Split('\n', StringSplitOptions.TrimEntries).Single(l => l.StartsWith(field, StringComparison.Ordinal));
        return long.Parse(line[field.Length..], CultureInfo.InvariantCulture);
    }

    /// <summary>Deployment slots held in Redis now, by every replica together (live leases and spares alike).</summary>
    public Task<long> DeploymentLeasesAsync()
    {
        const string sum = "local n = 0 for _, k in ipairs(redis.call('KEYS', ARGV[1])) do n = n + redis.call('ZCARD', k) end return n";
        return CliNumberAsync("EVAL", sum, "0", LlmRouter.LiveState.LiveKeys.DeploymentLeases("*"));
    }

    /// <summary>Freezes the server (SIGSTOP): connections stay open and nothing answers, as with a stuck Redis.</summary>
    public Task PauseAsync() => SignalAsync("-STOP");

    public Task ResumeAsync() => SignalAsync("-CONT");

    /// <summary>Runs <paramref name="action"/> with the server frozen, and wakes it after, whatever happens.</summary>
    public async Task<T> WhileFrozenAsync<T>(Func<Task<T>> action)
    {
        await PauseAsync();
        try
        {
            return await action();
        }
        finally
        {
            await ResumeAsync();
        }
    }

    private async Task SignalAsync(string signal)
    {
        if (_process is not { HasExited: false } process) return;
        using var kill = Process.Start("kill", [signal, process.Id.ToString()]) ?? throw new InvalidOperationException("kill did not start");
        await kill.WaitForExitAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await ResumeAsync();
        await StopAsync();
    }

    internal static int FreeTcpPort()
    {
        var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    internal static async Task WaitForPortAsync(int port, bool open, TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(System.Net.IPAddress.Loopback, port);
                if (open) return;
            }
            catch (SocketException)
            {
                if (!open) return;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"port {port} did not {(open ? "open" : "close")} within {timeout}");
    }
}
