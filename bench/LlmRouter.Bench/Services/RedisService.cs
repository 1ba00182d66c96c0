using System.Globalization;

namespace LlmRouter.Bench.Services;

/// <summary>A private redis-server on a free loopback port, without persistence.</summary>
internal sealed class RedisService : IAsyncDisposable
{
    private readonly BenchProcess _process;

    private RedisService(BenchProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }
    public string Url => $"redis://127.0.0.1:{Port}";

    public static async Task<RedisService> StartAsync()
    {
        var port = BenchProcess.FreePort();
        var process = BenchProcess.Start("redis-server", "redis-server",
            ["--port", port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--protected-mode", "no"]);
        await process.WaitForPortAsync(port, TimeSpan.FromSeconds(15));
        return new RedisService(process, port);
    }

    /// <summary>Script calls the server has run (EVAL and EVALSHA): one per round trip of the router's hot path.</summary>
    public async Task<long> ScriptCallsAsync()
    {
        var text = await BenchProcess.RunAsync("redis-cli", "-p", Port.ToString(CultureInfo.InvariantCulture), "INFO", "commandstats");
        long calls = 0;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith("cmdstat_evalsha:", StringComparison.Ordinal) && !line.StartsWith("cmdstat_eval:", StringComparison.Ordinal)) continue;
            var field = line.Split(':', 2)[1].Split(',').First(f => f.StartsWith("calls=", StringComparison.Ordinal));
            calls += long.Parse(field["calls=".Length..], CultureInfo.InvariantCulture);
        }
        return calls;
    }

    /// <summary>CPU time the server has used (<c>INFO cpu</c>, user and system): Redis is one thread shared by every replica.</summary>
    public async Task<TimeSpan> CpuTimeAsync()
    {
        var text = await BenchProcess.RunAsync("redis-cli", "-p", Port.ToString(CultureInfo.InvariantCulture), "INFO", "cpu");
        var seconds = 0.0;
        foreach (var line in text.Split('\n', StringSplitOptions.TrimEntries))
        {
            if (line.StartsWith("used_cpu_user:", StringComparison.Ordinal) || line.StartsWith("used_cpu_sys:", StringComparison.Ordinal))
                seconds += double.Parse(line.Split(':', 2)[1], CultureInfo.InvariantCulture);
        }
        return TimeSpan.FromSeconds(seconds);
    }

    public ValueTask DisposeAsync() => _process.DisposeAsync();
}
