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
}
