using LlmRouter.Bench.Load;
using LlmRouter.Bench.Phases;
using LlmRouter.Bench.Report;
using LlmRouter.Bench.Services;

namespace LlmRouter.Bench;

/// <summary>
/// What each feature adds per request: the same zero-delay backend behind three routers (plain; with Redis live state;
/// with Redis, Postgres and a virtual key with rpm/tpm limits), one request at a time, alternating, same client.
/// The differences answer "router with Redis vs without" and "keys + limits vs master key only".
/// </summary>
internal static class Overhead
{
    public static async Task<int> RunAsync(string[] args)
    {
        var repeats = args.SkipWhile(a => a != "--repeats").Skip(1).Select(int.Parse).FirstOrDefault(3);
        var workDir = Directory.CreateTempSubdirectory("llmrouter-overhead-").FullName;
        // The postgres user must reach its data directory inside.
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(workDir, (UnixFileMode)0b111_101_101);
        var owned = new List<IAsyncDisposable>();
        try
        {
            var redis = await RedisService.StartAsync();
            owned.Add(redis);
            var postgres = await PostgresService.StartAsync(workDir);
            owned.Add(postgres);
            var backend = BenchProcess.FreePort();
            owned.Add(await NginxService.StaticBackendAsync(workDir, backend, BenchEnvironment.ClientCpu));
            var groups = new Dictionary<string, int> { ["chat"] = backend };
            var plain = await RouterService.StartAsync(workDir, groups, null, null, BenchEnvironment.ProxyCpu, "plain");
            owned.Add(plain);
            var shared = await RouterService.StartAsync(workDir, groups, redis.Url, null, BenchEnvironment.ProxyCpu, "redis");
            owned.Add(shared);
            var full = await RouterService.StartAsync(workDir, groups, redis.Url, postgres.Url, BenchEnvironment.ProxyCpu, "full");
            owned.Add(full);
            var key = await full.MintKeyAsync() ?? throw new InvalidOperationException("could not mint a key");

            BenchPath[] paths =
            [
                BenchPath.Create(BenchPath.Direct, backend, backend, StaticAnswers.Model, StaticAnswers.Model, null, null),
                BenchPath.Create("router: master key, no Redis", plain.Port, plain.Port, "chat", "chat", RouterService.MasterKey, plain.Process),
                BenchPath.Create("router: master key + Redis", shared.Port, shared.Port, "chat", "chat", RouterService.MasterKey, shared.Process),
                BenchPath.Create("router: key + limits + Redis + usage", full.Port, full.Port, "chat", "chat", key, full.Process),
            ];
            // Non-streamed warm-up only: this backend serves precomputed answers (connection pools, tier-1 JIT).
            foreach (var path in paths.Skip(1))
            {
                await OpenLoopLoad.RunAsync(path.Static, path.StaticRequest, 2000, TimeSpan.FromSeconds(3), TimeSpan.Zero, 16);
                for (var i = 0; i < 3; i++) await SequentialLoad.RunAsync(path.Static, path.StaticRequest, TimeSpan.FromSeconds(1));
            }
            var runs = paths.ToDictionary(p => p.Name, _ => new List<LatencySample>());
            for (var rep = 0; rep < repeats; rep++)
            {
                foreach (var path in Phase1Latency.Rotate(paths, rep))
                {
                    var sample = await SequentialLoad.RunAsync(path.Static, path.StaticRequest, Phase1Latency.Window);
                    runs[path.Name].Add(sample);
                    Console.Error.WriteLine($"  run {rep + 1} {path.Name}: {sample.Count} requests, p50 {sample.P50:0} µs, p99 {sample.P99:0} µs, errors {sample.Errors}");
                }
            }
            var direct = runs[BenchPath.Direct];
            Console.WriteLine($"Per-request cost of each feature, one request at a time, zero-delay backend, medians of {repeats} runs ({DateTime.UtcNow:yyyy-MM-dd}, load {File.ReadAllText("/proc/loadavg").Split(' ')[0]})");
            Console.WriteLine("| path | p50 µs | p99 µs | added p50 µs | added p99 µs | errors |");
            Console.WriteLine("| --- | --- | --- | --- | --- | --- |");
            foreach (var path in paths)
            {
                var samples = runs[path.Name];
                double Median(Func<LatencySample, double> pick) => samples.Select(pick).Order().ElementAt(samples.Count / 2);
                double Added(Func<LatencySample, double> pick) => samples.Select((s, i) => pick(s) - pick(direct[i])).Order().ElementAt(samples.Count / 2);
                Console.WriteLine($"| {path.Name} | {Median(s => s.P50):0} | {Median(s => s.P99):0} | {(path.Name == BenchPath.Direct ? "" : Added(s => s.P50).ToString("0"))} | {(path.Name == BenchPath.Direct ? "" : Added(s => s.P99).ToString("0"))} | {samples.Sum(s => s.Errors)} |");
            }
            return 0;
        }
        finally
        {
            owned.Reverse();
            foreach (var service in owned) await service.DisposeAsync();
            try { Directory.Delete(workDir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }
}
