using LlmRouter.Bench.Load;
using LlmRouter.Bench.Report;

namespace LlmRouter.Bench.Phases;

/// <summary>Phase 1: one non-streamed request at a time against the zero-delay backend; added latency p50 and p99.</summary>
internal static class Phase1Latency
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(4);

    public static async Task RunAsync(BenchPath[] paths, int repeats, BenchReport report, Action<string> log)
    {
        var runs = paths.ToDictionary(p => p.Name, _ => new List<LatencySample>());
        for (var rep = 0; rep < repeats; rep++)
        {
            foreach (var path in Rotate(paths, rep))
            {
                var sample = await SequentialLoad.RunAsync(path.Static, path.StaticRequest, Window);
                runs[path.Name].Add(sample);
                log($"  run {rep + 1} {path.Name,-9}: {sample.Count,6} requests, p50 {sample.P50,5:0} µs, p99 {sample.P99,5:0} µs, errors {sample.Errors}");
            }
        }
        var direct = runs[BenchPath.Direct];
        Repeated Added(string name, Func<LatencySample, double> pick) =>
            Repeated.Of(runs[name].Select((s, i) => pick(s) - pick(direct[i])));
        Repeated Absolute(string name, Func<LatencySample, double> pick) => Repeated.Of(runs[name].Select(pick));

        var routerP99 = Added(BenchPath.Router, s => s.P99);
        var nginxP99 = Added(BenchPath.Nginx, s => s.P99);
        var errors = runs.Values.SelectMany(r => r).Sum(s => s.Errors);
        report.Rows.Add(new Row("1 latency", "latency p50 (absolute)",
            Format.Spread(Absolute(BenchPath.Direct, s => s.P50), Format.Micros),
            Format.Spread(Absolute(BenchPath.Nginx, s => s.P50), Format.Micros),
            Format.Spread(Absolute(BenchPath.Router, s => s.P50), Format.Micros), "", null));
        report.Rows.Add(new Row("1 latency", "added latency p50", "",
            Format.Spread(Added(BenchPath.Nginx, s => s.P50), Format.AddedMicros),
            Format.Spread(Added(BenchPath.Router, s => s.P50), Format.AddedMicros), "", null));
        report.Rows.Add(new Row("1 latency", "added latency p99", "",
            Format.Spread(nginxP99, Format.AddedMicros), Format.Spread(routerP99, Format.AddedMicros),
            "≤ 1 ms and ≤ 2× nginx's", routerP99.Median <= 1000 && routerP99.Median <= 2 * Math.Max(nginxP99.Median, 0) && errors == 0));
        if (errors > 0) report.Notes.Add($"phase 1: {errors} requests failed");
        report.Raw["phase1"] = runs.ToDictionary(r => r.Key, r => r.Value.Select(s => new { s.Count, s.Errors, p50_us = s.P50, p99_us = s.P99, max_us = s.Max }).ToArray());
    }

    /// <summary>Each run starts with a different path, so slow drift on a shared machine does not favour one.</summary>
    public static IEnumerable<BenchPath> Rotate(BenchPath[] paths, int rep) => paths.Skip(rep % paths.Length).Concat(paths.Take(rep % paths.Length));
}
