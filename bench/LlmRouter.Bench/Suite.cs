using System.Diagnostics;
using LlmRouter.Bench.Phases;
using LlmRouter.Bench.Report;
using LlmRouter.Bench.Services;

namespace LlmRouter.Bench;

/// <summary>
/// <c>suite</c>: phases 1–4 and 6 against the three paths in one run, then the table (stdout) and JSON and Markdown
/// under the results directory. Progress goes to stderr.
/// </summary>
internal static class Suite
{
    public static async Task<int> RunAsync(string[] args)
    {
        var repeats = IntArg(args, "--repeats", 3);
        var results = StringArg(args, "--results", Path.Combine(RepoPaths.Root(), "bench", "results"));
        var only = StringArg(args, "--phases", "1,2,3,4,6").Split(',', StringSplitOptions.TrimEntries).ToHashSet();
        var clock = Stopwatch.StartNew();
        void Log(string line) => Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] {line}");

        var report = new BenchReport();
        Log($"{report.Cpu}, {report.Cores} cores, load average {report.LoadAverageAtStart}; {repeats} runs of each phase");
        await using (var env = await BenchEnvironment.StartAsync(Log))
        {
            report.RouterAuth = env.KeyKind;
            Log("warming up every path until its latency settles ...");
            foreach (var path in env.Paths) await Warmup.RunAsync(path, Log);
            await Warmup.UntilJitSettlesAsync(env.Path(BenchPath.Router), env.Router, Log);

            if (only.Contains("1"))
            {
                Log("phase 1: one request at a time, non-streaming, zero-delay backend");
                await Phase1Latency.RunAsync(env.Paths, repeats, report, Log);
            }
            if (only.Contains("2"))
            {
                Log($"phase 2: streams one at a time, {BenchEnvironment.StreamTokens} chunks every {BenchEnvironment.StreamIntervalMs} ms");
                await Phase2Streaming.RunAsync(env.Paths, repeats, report, Log);
            }
            if (only.Contains("3"))
            {
                Log($"phase 3: concurrent streams stepped {string.Join(", ", Phase3Concurrency.Steps)}");
                await Phase3Concurrency.RunAsync(env.Paths, repeats, report, Log);
            }
            var routerMax = 2000.0;
            if (only.Contains("4"))
            {
                Log("phase 4: non-streaming throughput");
                var runs = await Phase4Throughput.RunAsync(env.Paths, repeats, env.WorkDir, report, Log);
                routerMax = Repeated.Of(runs[BenchPath.Router].Select(r => r.MaxRate)).Median;
            }
            if (only.Contains("6"))
            {
                Log("phase 6: Postgres and Redis work per request at load");
                await Phase6Accounting.RunAsync(env, routerMax, repeats, report, Log);
            }
            if (env.Router.Process.HasExited) report.Notes.Add("the router exited during the run:\n" + env.Router.Process.RecentOutput);
        }
        report.Finish(clock.Elapsed);
        var (json, markdown) = report.Write(results);
        Console.WriteLine();
        Console.WriteLine(report.ToMarkdown());
        Console.WriteLine($"written: {markdown} and {json}");
        return 0;
    }

    public static int IntArg(string[] args, string name, int fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    }

    public static string StringArg(string[] args, string name, string fallback)
    {
        var i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }
}
