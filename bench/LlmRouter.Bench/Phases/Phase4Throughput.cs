using LlmRouter.Bench.Load;
using LlmRouter.Bench.Report;

namespace LlmRouter.Bench.Phases;

/// <summary>
/// Phase 4: non-streamed throughput against the zero-delay backend. wrk finds the closed-loop maximum; then an open-loop
/// search (fixed rates, latency counted from each request's scheduled release) finds the highest rate whose p99 stays
/// within 10 ms with no errors. The proxy's CPU time per request during the wrk run is reported too: on a shared machine it
/// is the steadiest figure of all.
/// </summary>
internal static class Phase4Throughput
{
    public const double P99LimitMicros = 10_000;
    public const int Connections = 64;
    public const int WrkConnections = 32;
    private const int Probes = 6;
    private static readonly TimeSpan ProbeWarmup = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan ProbeLength = TimeSpan.FromSeconds(2);

    public sealed record PathRun(string Path, WrkResult Wrk, double MaxRate, IReadOnlyList<RateResult> Probes, double CpuMicrosPerRequest);

    public static async Task<Dictionary<string, List<PathRun>>> RunAsync(BenchPath[] paths, int repeats, string workDir, BenchReport report, Action<string> log)
    {
        var runs = paths.ToDictionary(p => p.Name, _ => new List<PathRun>());
        for (var rep = 0; rep < repeats; rep++)
        {
            foreach (var path in Phase1Latency.Rotate(paths, rep))
            {
                var cpuBefore = path.Proxy?.CpuTime() ?? TimeSpan.Zero;
                var wrk = await WrkLoad.RunAsync(workDir, path.Static, path.StaticRequest, WrkConnections, TimeSpan.FromSeconds(4));
                var cpu = path.Proxy is null || wrk.Requests == 0 ? double.NaN : (path.Proxy.CpuTime() - cpuBefore).TotalMicroseconds / wrk.Requests;
                var (best, probes) = await SearchAsync(path, wrk.RequestsPerSecond);
                runs[path.Name].Add(new PathRun(path.Name, wrk, best, probes, cpu));
                log($"  run {rep + 1} {path.Name,-9}: wrk {wrk.RequestsPerSecond,8:#,0} rps ({wrk.Errors} errors); open loop: {best,8:#,0} rps with p99 ≤ 10 ms " +
                    $"(probes: {string.Join(", ", probes.Select(p => $"{p.TargetRate:#,0}{(p.Holds(P99LimitMicros) ? "✓" : "✗")} p99 {Format.Micros(p.P99)}"))})");
            }
        }
        Repeated Of(string name, Func<PathRun, double> pick) => Repeated.Of(runs[name].Select(pick));
        var router = Of(BenchPath.Router, r => r.MaxRate);
        var nginx = Of(BenchPath.Nginx, r => r.MaxRate);
        var direct = Of(BenchPath.Direct, r => r.MaxRate);
        var share = Repeated.Of(runs[BenchPath.Router].Select((r, i) => r.MaxRate / runs[BenchPath.Nginx][i].MaxRate * 100));
        report.Rows.Add(new Row("4 throughput", "highest rate with p99 ≤ 10 ms (open loop, 64 connections)", Format.Spread(direct, Format.Rate),
            Format.Spread(nginx, Format.Rate), Format.Spread(router, Format.Rate), "≥ 50% of nginx's (stretch 75%)", share.Median >= 50));
        report.Rows.Add(new Row("4 throughput", "LlmRouter as % of nginx (same run)", "", "100%", Format.Spread(share, v => Format.Number(v, "0") + "%"), "≥ 50%", share.Median >= 50));
        report.Rows.Add(new Row("4 throughput", $"closed-loop maximum (wrk, {WrkConnections} connections)", Format.Spread(Of(BenchPath.Direct, r => r.Wrk.RequestsPerSecond), Format.Rate),
            Format.Spread(Of(BenchPath.Nginx, r => r.Wrk.RequestsPerSecond), Format.Rate), Format.Spread(Of(BenchPath.Router, r => r.Wrk.RequestsPerSecond), Format.Rate), "", null));
        report.Rows.Add(new Row("4 throughput", "proxy CPU per request (during the wrk run)", "",
            Format.Spread(Of(BenchPath.Nginx, r => r.CpuMicrosPerRequest), Format.Micros), Format.Spread(Of(BenchPath.Router, r => r.CpuMicrosPerRequest), Format.Micros),
            "reported next to nginx", null));
        if (nginx.Median >= direct.Median * 0.9)
            report.Notes.Add("phase 4: nginx came within 10% of the direct path, so the client's core may be what limits it; the router's share of nginx is then flattered");
        report.Raw["phase4"] = runs.ToDictionary(r => r.Key, r => r.Value.Select(p => new
        {
            wrk_rps = p.Wrk.RequestsPerSecond, wrk_errors = p.Wrk.Errors, max_rate = p.MaxRate, cpu_us_per_request = p.CpuMicrosPerRequest,
            probes = p.Probes.Select(x => new { target = x.TargetRate, achieved = x.AchievedRate, p50_us = x.P50, p99_us = x.P99, x.Errors, x.Unfinished }).ToArray(),
        }).ToArray());
        return runs;
    }

    /// <summary>Bisects between 0 and a little above the closed-loop maximum.</summary>
    private static async Task<(double Best, List<RateResult> Probes)> SearchAsync(BenchPath path, double closedLoop)
    {
        var probes = new List<RateResult>();
        var low = 0.0;
        var high = double.IsNaN(closedLoop) || closedLoop <= 0 ? 20_000 : closedLoop * 1.05;
        var rate = high * 0.7;
        for (var i = 0; i < Probes; i++)
        {
            var result = await OpenLoopLoad.RunAsync(path.Static, path.StaticRequest, Math.Round(rate), ProbeLength, ProbeWarmup, Connections);
            // On a shared machine a neighbour's burst can cost one probe its p99: a rate fails only if it fails twice.
            if (!result.Holds(P99LimitMicros))
            {
                probes.Add(result);
                await Task.Delay(200);
                result = await OpenLoopLoad.RunAsync(path.Static, path.StaticRequest, Math.Round(rate), ProbeLength, ProbeWarmup, Connections);
            }
            probes.Add(result);
            if (result.Holds(P99LimitMicros)) low = rate;
            else high = rate;
            rate = (low + high) / 2;
            await Task.Delay(200);
        }
        return (low, probes);
    }
}
