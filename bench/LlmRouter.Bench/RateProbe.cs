using System.Globalization;
using System.Net;
using LlmRouter.Bench.Load;
using LlmRouter.Bench.Phases;

namespace LlmRouter.Bench;

/// <summary>
/// One open-loop probe by hand, for profiling next to <c>serve</c>: a fixed request rate against one port for a while,
/// then p50, p99 and max latency counted from each request's scheduled release (as phase 4 does).
/// </summary>
internal static class RateProbe
{
    public static async Task<int> RunAsync(string[] args)
    {
        string? Get(string name) => Array.IndexOf(args, name) is var i and >= 0 && i + 1 < args.Length ? args[i + 1] : null;
        if (Get("--port") is not { } port || Get("--rate") is not { } rate)
        {
            Console.Error.WriteLine("usage: LlmRouter.Bench rate --port N --rate RPS [--seconds S] [--bearer KEY] [--model chat] [--connections 64]");
            return 2;
        }
        var server = new IPEndPoint(IPAddress.Loopback, int.Parse(port, CultureInfo.InvariantCulture));
        var path = BenchPath.Create("probe", server.Port, server.Port, Get("--model") ?? "chat", "stream", Get("--bearer"), proxy: null);
        var result = await OpenLoopLoad.RunAsync(server, path.StaticRequest, double.Parse(rate, CultureInfo.InvariantCulture),
            TimeSpan.FromSeconds(double.Parse(Get("--seconds") ?? "10", CultureInfo.InvariantCulture)), TimeSpan.FromSeconds(1),
            int.Parse(Get("--connections") ?? Phase4Throughput.Connections.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture));
        Console.WriteLine(FormattableString.Invariant(
            $"target {result.TargetRate:0} rps, achieved {result.AchievedRate:0} rps, {result.Measured} measured, {result.Errors} errors, {result.Unfinished} unfinished; p50 {result.P50:0} µs, p99 {result.P99:0} µs, max {result.Max:0} µs"));
        return 0;
    }
}
