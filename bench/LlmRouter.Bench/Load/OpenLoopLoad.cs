using System.Diagnostics;
using System.Net;
using System.Threading.Channels;
using LlmRouter.Bench.Http;
using LlmRouter.Bench.Report;

namespace LlmRouter.Bench.Load;

internal sealed record RateResult(double TargetRate, double AchievedRate, int Measured, int Errors, int Unfinished, double P50, double P99, double Max)
{
    /// <summary>Held the rate with p99 within <paramref name="p99LimitMicros"/> and no failures.</summary>
    public bool Holds(double p99LimitMicros) =>
        Errors == 0 && Unfinished == 0 && P99 <= p99LimitMicros && AchievedRate >= TargetRate * 0.95;
}

/// <summary>
/// Open loop at a fixed request rate (wrk2-style): a pacer thread releases requests on schedule whether or not
/// earlier ones have come back, and keep-alive connections take them as they free up. A request's latency runs from
/// its release, so time spent queued behind a slow server counts (no coordinated omission), while the pacer's own
/// timer jitter (about 1 ms on a loaded machine) does not.
/// </summary>
internal static class OpenLoopLoad
{
    public static async Task<RateResult> RunAsync(IPEndPoint server, byte[] request, double rate, TimeSpan duration, TimeSpan warmup, int connections)
    {
        var connectionsOpen = await Task.WhenAll(Enumerable.Range(0, connections).Select(_ => RawHttpConnection.ConnectAsync(server)));
        var tickets = Channel.CreateUnbounded<long>(new UnboundedChannelOptions { SingleWriter = true });
        var frequency = Stopwatch.Frequency;
        var total = (int)(rate * (warmup + duration).TotalSeconds);
        var latencies = new double[total];
        var measured = 0;
        var errors = 0;
        var completed = 0;
        var start = Stopwatch.GetTimestamp();
        var measureFrom = start + (long)(warmup.TotalSeconds * frequency);
        long lastCompletion = 0;

        var pacer = new Thread(() =>
        {
            var ticksPerRequest = frequency / rate;
            var released = 0;
            while (released < total)
            {
                var now = Stopwatch.GetTimestamp();
                var due = Math.Min(total, (int)((now - start) / ticksPerRequest) + 1);
                for (; released < due; released++) tickets.Writer.TryWrite(now);
                var untilNext = (start + (long)(released * ticksPerRequest) - Stopwatch.GetTimestamp()) * 1000 / frequency;
                Thread.Sleep((int)Math.Clamp(untilNext, 1, 50));
            }
            tickets.Writer.Complete();
        }) { IsBackground = true, Name = "pacer" };

        async Task WorkAsync(RawHttpConnection connection)
        {
            var reader = tickets.Reader;
            while (true)
            {
                long releasedAt;
                try
                {
                    releasedAt = await reader.ReadAsync();
                }
                catch (ChannelClosedException)
                {
                    return;
                }
                var ok = false;
                try
                {
                    var response = await connection.SendAsync(request, DiscardSink.Instance, CancellationToken.None);
                    ok = response.Status == 200;
                    if (!response.KeepAlive) return;
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or ObjectDisposedException)
                {
                    Interlocked.Increment(ref errors);
                    return;
                }
                var now = Stopwatch.GetTimestamp();
                Interlocked.Increment(ref completed);
                if (!ok) Interlocked.Increment(ref errors);
                if (releasedAt >= measureFrom)
                {
                    latencies[Interlocked.Increment(ref measured) - 1] = Stats.TicksToMicros(now - releasedAt);
                    InterlockedMax(ref lastCompletion, now);
                }
            }
        }

        pacer.Start();
        var workers = Task.WhenAll(connectionsOpen.Select(c => Task.Run(() => WorkAsync(c))));
        // A server that cannot keep up leaves a backlog; give it a little time, then call the rest unfinished.
        await Task.WhenAny(workers, Task.Delay(warmup + duration + TimeSpan.FromSeconds(5)));
        foreach (var connection in connectionsOpen) connection.Dispose();
        var count = Volatile.Read(ref measured);
        var sample = latencies.AsSpan(0, count).ToArray();
        Array.Sort(sample);
        var unfinished = total - Volatile.Read(ref completed) - Volatile.Read(ref errors);
        var window = (Volatile.Read(ref lastCompletion) - measureFrom) / (double)frequency;
        var achieved = window > 0 ? count / Math.Max(window, duration.TotalSeconds) : 0;
        return new RateResult(rate, achieved, count, errors, Math.Max(0, unfinished), Stats.PercentileOfSorted(sample, 50),
            Stats.PercentileOfSorted(sample, 99), sample.Length == 0 ? double.NaN : sample[^1]);
    }

    private static void InterlockedMax(ref long target, long value)
    {
        var current = Volatile.Read(ref target);
        while (value > current)
        {
            var seen = Interlocked.CompareExchange(ref target, value, current);
            if (seen == current) return;
            current = seen;
        }
    }
}
