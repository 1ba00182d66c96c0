using System.Globalization;
using System.Net;
using LlmRouter.Bench.Load;
using LlmRouter.Bench.Phases;
using LlmRouter.Bench.Report;
using LlmRouter.Bench.Services;

namespace LlmRouter.Bench;

/// <summary>
/// Single probes by hand, for profiling next to <c>serve</c>: <c>rate</c> sends a fixed request rate to one port (latency
/// counted from each request's scheduled release, as phase 4 does); <c>streams</c> opens concurrent streams (as a step of
/// phase 3 does) against the streaming port.
/// </summary>
internal static class Probes
{
    public static async Task<int> StreamsAsync(string[] args)
    {
        if (Get(args, "--port") is not { } port)
        {
            Console.Error.WriteLine("usage: LlmRouter.Bench streams --port N [--streams 256] [--sequential] [--bearer KEY] [--model stream]");
            return 2;
        }
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(port, CultureInfo.InvariantCulture));
        var path = BenchPath.Create("probe", server.Port, server.Port, "chat", Get(args, "--model") ?? "stream", Get(args, "--bearer"), proxy: null);
        var streams = int.Parse(Get(args, "--streams") ?? "256", CultureInfo.InvariantCulture);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var interval = TimeSpan.FromMilliseconds(BenchEnvironment.StreamIntervalMs);
        // One after another, as phase 2 runs them (and then time to first token means something), or all at once, as phase 3.
        var run = args.Contains("--sequential")
            ? await StreamLoad.SequentialAsync(server, path.StreamRequest, streams, BenchEnvironment.StreamTokens, interval, timeout.Token)
            : await StreamLoad.ConcurrentAsync(server, path.StreamRequest, streams, BenchEnvironment.StreamTokens, interval,
                TimeSpan.FromMilliseconds(Math.Min(streams, 1000)), timeout.Token);
        Array.Sort(run.ChunkLatencyMicros);
        Console.WriteLine(FormattableString.Invariant(
            $"{run.Streams} streams, {run.Failed} failed, chunks {run.ChunksDelivered}/{run.ChunksExpected}, stalls {run.Stalls}, max gap {run.MaxGapMillis:0.0} ms; chunk write→read p50 {Stats.PercentileOfSorted(run.ChunkLatencyMicros, 50):0} µs, p99 {Stats.PercentileOfSorted(run.ChunkLatencyMicros, 99):0} µs; TTFT p50 {Stats.PercentileOfSorted(run.TtftMicros, 50):0} µs"));
        return 0;
    }

    public static async Task<int> RateAsync(string[] args)
    {
        if (Get(args, "--port") is not { } port || Get(args, "--rate") is not { } rate)
        {
            Console.Error.WriteLine("usage: LlmRouter.Bench rate --port N --rate RPS [--seconds S] [--bearer KEY] [--model chat] [--connections 64]");
            return 2;
        }
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(port, CultureInfo.InvariantCulture));
        var path = BenchPath.Create("probe", server.Port, server.Port, Get(args, "--model") ?? "chat", "stream", Get(args, "--bearer"), proxy: null);
        var result = await OpenLoopLoad.RunAsync(server, path.StaticRequest, double.Parse(rate, CultureInfo.InvariantCulture),
            TimeSpan.FromSeconds(double.Parse(Get(args, "--seconds") ?? "10", CultureInfo.InvariantCulture)), TimeSpan.FromSeconds(1),
            int.Parse(Get(args, "--connections") ?? Phase4Throughput.Connections.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
        Console.WriteLine(FormattableString.Invariant(
            $"target {result.TargetRate:0} rps, achieved {result.AchievedRate:0} rps, {result.Measured} measured, {result.Errors} errors, {result.Unfinished} unfinished; p50 {result.P50:0} µs, p99 {result.P99:0} µs, max {result.Max:0} µs"));
        return 0;
    }

    private static string? Get(string[] args, string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
