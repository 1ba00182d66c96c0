using LlmRouter.Bench.Load;
using LlmRouter.Bench.Report;
using LlmRouter.Bench.Services;

namespace LlmRouter.Bench.Phases;

/// <summary>
/// Phase 3: concurrent streams stepped up to 1,000. A step counts as sustained when every chunk arrives, no gap between
/// two chunks of a stream exceeds twice the interval and fewer than 0.1% of streams fail. Steps stop at what the direct
/// path sustains (beyond that the client's core is the limit, not the proxy). The proxy's resident memory is sampled
/// while the streams are open.
/// </summary>
internal static class Phase3Concurrency
{
    public static readonly int[] Steps = [1, 8, 64, 256, 1000];

    private sealed record StepRun(string Path, int Streams, StreamRun Run, double BaselineBytes, double PeakBytes, TimeSpan ProxyCpu)
    {
        public bool Sustained => Run.ChunksDelivered == Run.ChunksExpected && Run.Stalls == 0 && Run.ErrorRate < 0.001;
        public double BytesPer1000 => (PeakBytes - BaselineBytes) * 1000.0 / Streams;
        /// <summary>The proxy's CPU time for the step (whole requests included) per chunk relayed.</summary>
        public double CpuMicrosPerChunk => Run.ChunksDelivered == 0 ? double.NaN : ProxyCpu.TotalMicroseconds / Run.ChunksDelivered;
    }

    public static async Task RunAsync(BenchPath[] paths, int repeats, BenchReport report, Action<string> log)
    {
        var interval = TimeSpan.FromMilliseconds(BenchEnvironment.StreamIntervalMs);
        var runs = new List<StepRun>();
        // Resident memory rarely shrinks once grown (the .NET heap keeps what it took), so growth is measured from each
        // proxy's idle size after warm-up, taken once, not from just before each step.
        var idle = paths.ToDictionary(p => p.Name, p => (double)(p.Proxy?.RssBytes() ?? 0));
        for (var rep = 0; rep < repeats; rep++)
        {
            foreach (var streams in Steps)
            {
                foreach (var path in Phase1Latency.Rotate(paths, rep))
                {
                    var run = await StepAsync(path, streams, interval, idle[path.Name]);
                    runs.Add(run);
                    log($"  run {rep + 1} {streams,4} streams {path.Name,-9}: {(run.Sustained ? "sustained" : "NOT sustained")}, chunks {run.Run.ChunksDelivered}/{run.Run.ChunksExpected}, " +
                        $"stalls {run.Run.Stalls}, failed {run.Run.Failed}, max gap {run.Run.MaxGapMillis:0.0} ms, chunk p99 {Stats.PercentileOfSorted(run.Run.ChunkLatencyMicros, 99):0} µs" +
                        (path.Proxy is null ? "" : $", RSS +{(run.PeakBytes - run.BaselineBytes) / 1048576:0.0} MiB, CPU {run.CpuMicrosPerChunk:0} µs/chunk"));
                }
            }
        }

        bool HeldByMost(string path, int streams)
        {
            var atStep = runs.Where(r => r.Path == path && r.Streams == streams).ToArray();
            return atStep.Length > 0 && atStep.Count(r => r.Sustained) * 2 > atStep.Length;
        }
        int Highest(string path, int cap) => Steps.Where(s => s <= cap).TakeWhile(s => HeldByMost(path, s)).DefaultIfEmpty(0).Max();
        var cap = Highest(BenchPath.Direct, int.MaxValue);
        var routerHeld = Highest(BenchPath.Router, cap);
        report.Rows.Add(new Row("3 concurrency", "most concurrent streams sustained (every chunk, no stall > 40 ms, < 0.1% errors)",
            cap.ToString(System.Globalization.CultureInfo.InvariantCulture), Highest(BenchPath.Nginx, cap).ToString(System.Globalization.CultureInfo.InvariantCulture),
            routerHeld.ToString(System.Globalization.CultureInfo.InvariantCulture), "all the direct path sustains", routerHeld == cap && cap > 0));
        if (cap < Steps[^1]) report.Notes.Add($"phase 3: the direct path held only {cap} concurrent streams on this machine (client and simulator share one core), so steps stop there");

        var capStep = cap > 0 ? cap : Steps[0];
        Repeated At(string path, Func<StepRun, double> pick) => Repeated.Of(runs.Where(r => r.Path == path && r.Streams == capStep).Select(pick));
        report.Rows.Add(new Row("3 concurrency", $"chunk write→read p99 at {capStep} streams",
            Format.Spread(At(BenchPath.Direct, r => Stats.PercentileOfSorted(r.Run.ChunkLatencyMicros, 99)), Format.Micros),
            Format.Spread(At(BenchPath.Nginx, r => Stats.PercentileOfSorted(r.Run.ChunkLatencyMicros, 99)), Format.Micros),
            Format.Spread(At(BenchPath.Router, r => Stats.PercentileOfSorted(r.Run.ChunkLatencyMicros, 99)), Format.Micros), "", null));
        var cpuStep = Math.Min(256, capStep);
        Repeated Cpu(string path) => Repeated.Of(runs.Where(r => r.Path == path && r.Streams == cpuStep).Select(r => r.CpuMicrosPerChunk));
        report.Rows.Add(new Row("3 concurrency", $"proxy CPU per streamed chunk (at {cpuStep} streams)", "",
            Format.Spread(Cpu(BenchPath.Nginx), Format.Micros), Format.Spread(Cpu(BenchPath.Router), Format.Micros), "reported next to nginx", null));
        // Memory is counted with all 1,000 streams open, whether or not the client's core kept every gap within bounds.
        var memoryStep = Steps[^1];
        Repeated Memory(string path) => Repeated.Of(runs.Where(r => r.Path == path && r.Streams == memoryStep).Select(r => r.BytesPer1000));
        report.Rows.Add(new Row("3 concurrency", $"proxy RSS growth per 1,000 open streams (at {memoryStep}, over idle after warm-up)", "",
            Format.Spread(Memory(BenchPath.Nginx), Format.MiB), Format.Spread(Memory(BenchPath.Router), Format.MiB), "reported next to nginx", null));
        report.Raw["phase3"] = runs.Select(r => new
        {
            path = r.Path, streams = r.Streams, sustained = r.Sustained, baseline_rss = r.BaselineBytes, peak_rss = r.PeakBytes,
            cpu_us_per_chunk = r.CpuMicrosPerChunk,
            run = Phase2Streaming.Summary(r.Run),
        }).ToArray();
    }

    private static async Task<StepRun> StepAsync(BenchPath path, int streams, TimeSpan interval, double baseline)
    {
        await Task.Delay(300);
        var cpuBefore = path.Proxy?.CpuTime() ?? TimeSpan.Zero;
        double peak = baseline;
        using var stop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                if (path.Proxy is { } proxy) peak = Math.Max(peak, proxy.RssBytes());
                try
                {
                    await Task.Delay(20, stop.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        // Starts spread over up to a second, so at the peak every stream is open at once (each lasts ~1.3 s).
        var spread = TimeSpan.FromMilliseconds(Math.Min(streams, 1000));
        var run = await StreamLoad.ConcurrentAsync(path.Stream, path.StreamRequest, streams, BenchEnvironment.StreamTokens, interval, spread, timeout.Token);
        await stop.CancelAsync();
        await sampler;
        var cpu = (path.Proxy?.CpuTime() ?? TimeSpan.Zero) - cpuBefore;
        return new StepRun(path.Name, streams, run, baseline, peak, cpu);
    }
}
