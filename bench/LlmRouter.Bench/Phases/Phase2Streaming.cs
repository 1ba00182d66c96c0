using LlmRouter.Bench.Load;
using LlmRouter.Bench.Report;
using LlmRouter.Bench.Services;

namespace LlmRouter.Bench.Phases;

/// <summary>
/// Phase 2: streamed answers one at a time, 64 chunks 20 ms apart. Added time to first token, and added write→read
/// latency per chunk (the simulator stamps each token as it writes it): what the proxy adds to every gap between chunks.
/// </summary>
internal static class Phase2Streaming
{
    public const int StreamsPerRun = 8;

    public static async Task RunAsync(BenchPath[] paths, int repeats, BenchReport report, Action<string> log)
    {
        var interval = TimeSpan.FromMilliseconds(BenchEnvironment.StreamIntervalMs);
        var runs = paths.ToDictionary(p => p.Name, _ => new List<StreamRun>());
        for (var rep = 0; rep < repeats; rep++)
        {
            foreach (var path in Phase1Latency.Rotate(paths, rep))
            {
                var run = await StreamLoad.SequentialAsync(path.Stream, path.StreamRequest, StreamsPerRun, BenchEnvironment.StreamTokens, interval, CancellationToken.None);
                runs[path.Name].Add(run);
                log($"  run {rep + 1} {path.Name,-9}: TTFT p50 {Stats.PercentileOfSorted(run.TtftMicros, 50),6:0} µs, chunk p50 {Stats.PercentileOfSorted(run.ChunkLatencyMicros, 50),5:0} µs, " +
                    $"p99 {Stats.PercentileOfSorted(run.ChunkLatencyMicros, 99),6:0} µs, chunks {run.ChunksDelivered}/{run.ChunksExpected}, held back {run.HeldBack}, failed {run.Failed}");
            }
        }
        var direct = runs[BenchPath.Direct];
        Repeated Added(string name, Func<StreamRun, double> pick) => Repeated.Of(runs[name].Select((r, i) => pick(r) - pick(direct[i])));
        Repeated Absolute(string name, Func<StreamRun, double> pick) => Repeated.Of(runs[name].Select(pick));
        static double Ttft(StreamRun r) => Stats.PercentileOfSorted(r.TtftMicros, 50);
        static double ChunkP50(StreamRun r) => Stats.PercentileOfSorted(r.ChunkLatencyMicros, 50);
        static double ChunkP99(StreamRun r) => Stats.PercentileOfSorted(r.ChunkLatencyMicros, 99);

        var ttft = Added(BenchPath.Router, Ttft);
        var gap50 = Added(BenchPath.Router, ChunkP50);
        var gap99 = Added(BenchPath.Router, ChunkP99);
        report.Rows.Add(new Row("2 streaming", "TTFT p50 (absolute)", Format.Spread(Absolute(BenchPath.Direct, Ttft), Format.Micros),
            Format.Spread(Absolute(BenchPath.Nginx, Ttft), Format.Micros), Format.Spread(Absolute(BenchPath.Router, Ttft), Format.Micros), "", null));
        report.Rows.Add(new Row("2 streaming", "added TTFT p50", "", Format.Spread(Added(BenchPath.Nginx, Ttft), Format.AddedMicros),
            Format.Spread(ttft, Format.AddedMicros), "≤ 0.5 ms", ttft.Median <= 500));
        report.Rows.Add(new Row("2 streaming", "chunk write→read p50 (absolute)", Format.Spread(Absolute(BenchPath.Direct, ChunkP50), Format.Micros),
            Format.Spread(Absolute(BenchPath.Nginx, ChunkP50), Format.Micros), Format.Spread(Absolute(BenchPath.Router, ChunkP50), Format.Micros), "", null));
        report.Rows.Add(new Row("2 streaming", "added chunk gap p50", "", Format.Spread(Added(BenchPath.Nginx, ChunkP50), Format.AddedMicros),
            Format.Spread(gap50, Format.AddedMicros), "≤ 50 µs", gap50.Median <= 50));
        report.Rows.Add(new Row("2 streaming", "added chunk gap p99", "", Format.Spread(Added(BenchPath.Nginx, ChunkP99), Format.AddedMicros),
            Format.Spread(gap99, Format.AddedMicros), "≤ 1 ms", gap99.Median <= 1000));
        string Integrity(string name) =>
            $"{runs[name].Sum(r => r.ChunksExpected - r.ChunksDelivered)} lost, {runs[name].Sum(r => r.HeldBack)} held back, {runs[name].Sum(r => r.Failed)} failed";
        var routerClean = runs[BenchPath.Router].All(r => r.ChunksDelivered == r.ChunksExpected && r.HeldBack == 0 && r.Failed == 0);
        report.Rows.Add(new Row("2 streaming", $"chunks lost / held back (>{BenchEnvironment.StreamIntervalMs} ms) / streams failed", Integrity(BenchPath.Direct),
            Integrity(BenchPath.Nginx), Integrity(BenchPath.Router), "none", routerClean));
        report.Raw["phase2"] = runs.ToDictionary(r => r.Key, r => r.Value.Select(Summary).ToArray());
    }

    public static object Summary(StreamRun r) => new
    {
        r.Streams, r.Failed, r.ChunksExpected, r.ChunksDelivered, r.Stalls, r.HeldBack,
        ttft_p50_us = Stats.PercentileOfSorted(r.TtftMicros, 50),
        chunk_p50_us = Stats.PercentileOfSorted(r.ChunkLatencyMicros, 50),
        chunk_p99_us = Stats.PercentileOfSorted(r.ChunkLatencyMicros, 99),
        chunk_max_us = r.ChunkLatencyMicros.Length == 0 ? double.NaN : r.ChunkLatencyMicros[^1],
        max_gap_ms = r.MaxGapMillis,
    };
}
