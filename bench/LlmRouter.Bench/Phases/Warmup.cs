using LlmRouter.Bench.Load;

namespace LlmRouter.Bench.Phases;

/// <summary>
/// Brings each path to its steady state before anything is measured: concurrent load first (connection pools, thread
/// pool, tier-1 JIT with PGO), then one-at-a-time windows until the median stops moving by more than 3%.
/// </summary>
internal static class Warmup
{
    public static async Task RunAsync(BenchPath path, Action<string> log)
    {
        await OpenLoopLoad.RunAsync(path.Static, path.StaticRequest, 2000, TimeSpan.FromSeconds(3), TimeSpan.Zero, 16);
        await StreamLoad.ConcurrentAsync(path.Stream, path.StreamRequest, 32, Services.BenchEnvironment.StreamTokens,
            TimeSpan.FromMilliseconds(Services.BenchEnvironment.StreamIntervalMs), TimeSpan.FromMilliseconds(50), CancellationToken.None);
        var previous = double.NaN;
        for (var window = 1; window <= 12; window++)
        {
            var sample = await SequentialLoad.RunAsync(path.Static, path.StaticRequest, TimeSpan.FromSeconds(1));
            var settled = !double.IsNaN(previous) && Math.Abs(sample.P50 - previous) <= previous * 0.03;
            previous = sample.P50;
            if (settled && window >= 3)
            {
                log($"  {path.Name}: settled after {window} s (p50 {sample.P50:0} µs)");
                return;
            }
        }
        log($"  {path.Name}: p50 still moving after 12 s ({previous:0} µs); measuring anyway");
    }

    /// <summary>
    /// Mixed traffic through the router until its JIT stops re-compiling (tiered compilation with PGO keeps promoting hot
    /// methods for a while after start-up): fewer than 20 methods compiled in 3 s, or 90 s at most.
    /// </summary>
    public static async Task UntilJitSettlesAsync(BenchPath path, Services.RouterService router, Action<string> log)
    {
        var previous = await router.MetricAsync("dotnet_jit_compiled_methods_total");
        if (previous is null) return;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed < TimeSpan.FromSeconds(90))
        {
            var streams = StreamLoad.ConcurrentAsync(path.Stream, path.StreamRequest, 32, Services.BenchEnvironment.StreamTokens,
                TimeSpan.FromMilliseconds(Services.BenchEnvironment.StreamIntervalMs), TimeSpan.FromMilliseconds(200), CancellationToken.None);
            await OpenLoopLoad.RunAsync(path.Static, path.StaticRequest, 1500, TimeSpan.FromSeconds(1.5), TimeSpan.Zero, 16);
            await streams;
            var now = await router.MetricAsync("dotnet_jit_compiled_methods_total") ?? 0;
            var compiled = now - previous.Value;
            previous = now;
            if (compiled < 20)
            {
                log($"  LlmRouter JIT settled after {clock.Elapsed.TotalSeconds:0} s ({now:0} methods compiled in all)");
                return;
            }
        }
        log("  LlmRouter JIT still compiling after 90 s; measuring anyway");
    }
}
