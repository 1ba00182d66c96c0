using System.Diagnostics;
using System.Net;
using LlmRouter.Bench.Http;
using LlmRouter.Bench.Load;
using LlmRouter.Bench.Phases;
using LlmRouter.Bench.Report;
using LlmRouter.Bench.Services;

namespace LlmRouter.Bench;

/// <summary>
/// <c>soak</c> (phase 5): mixed traffic through the router for ten minutes — non-streamed requests at a fixed rate,
/// a constant set of open streams, clients that hang up mid-stream, and requests that fail (unknown model, bad JSON) —
/// and the router's resident memory after a warm-up minute vs at the end. Bar: within 10%.
/// </summary>
internal static class Soak
{
    public static async Task<int> RunAsync(string[] args)
    {
        var minutes = Suite.IntArg(args, "--minutes", 10);
        var rate = Suite.IntArg(args, "--rate", 500);
        var streams = Suite.IntArg(args, "--streams", 64);
        var results = Suite.StringArg(args, "--results", Path.Combine(RepoPaths.Root(), "bench", "results"));
        var clock = Stopwatch.StartNew();
        void Log(string line) => Console.Error.WriteLine($"[{clock.Elapsed:mm\\:ss}] {line}");
        var report = new BenchReport();
        await using var env = await BenchEnvironment.StartAsync(Log);
        report.RouterAuth = env.KeyKind;
        var router = env.Path(BenchPath.Router);
        var samples = new List<(double Minute, double Rss)>();

        using var stop = new CancellationTokenSource();
        var counters = new Counters();
        Log($"mixed traffic through the router: {rate} rps non-streamed, {streams} open streams, hang-ups and failing requests");
        var traffic = new[]
        {
            Task.Run(() => NonStreamedAsync(router, rate, counters, stop.Token)),
            Task.Run(() => StreamsAsync(router, streams, counters, stop.Token)),
            Task.Run(() => HangUpsAsync(router, counters, stop.Token)),
            Task.Run(() => FailuresAsync(router, counters, stop.Token)),
        };
        var warmup = TimeSpan.FromMinutes(1);
        await Task.Delay(warmup);
        var before = env.Router.Process.RssBytes();
        Log($"after a minute of warm-up: RSS {Format.MiB(before)}; soaking for {minutes} min");
        var soakClock = Stopwatch.StartNew();
        while (soakClock.Elapsed < TimeSpan.FromMinutes(minutes))
        {
            await Task.Delay(TimeSpan.FromSeconds(30));
            var rss = env.Router.Process.RssBytes();
            samples.Add((soakClock.Elapsed.TotalMinutes, rss));
            Log($"  {soakClock.Elapsed.TotalMinutes,4:0.0} min: RSS {Format.MiB(rss)} ({RssParts(env.Router.Process)}), {await RuntimeMemoryAsync(env.Router)}; {counters}");
            if (env.Router.Process.HasExited) break;
        }
        var after = env.Router.Process.RssBytes();
        await stop.CancelAsync();
        await Task.WhenAll(traffic);
        await Task.Delay(TimeSpan.FromSeconds(5));
        var idle = env.Router.Process.RssBytes();

        var change = (after - before) * 100.0 / before;
        report.Rows.Add(new Row("5 soak", $"router RSS after {minutes} min vs after 1 min warm-up (same traffic)", "", "",
            $"{Format.MiB(before)} → {Format.MiB(after)} ({change:+0.0;-0.0}%)", "within 10%", Math.Abs(change) <= 10 && !env.Router.Process.HasExited));
        report.Rows.Add(new Row("5 soak", "router RSS peak during the soak; 5 s after traffic stopped", "", "",
            $"{Format.MiB(samples.Count == 0 ? after : samples.Max(s => s.Rss))}; {Format.MiB(idle)}", "", null));
        report.Rows.Add(new Row("5 soak", "requests: non-streamed ok / failed, streams ok / failed, hang-ups, expected errors", "", "",
            counters.ToString(), "no unexpected failures", counters.UnexpectedFailures == 0));
        report.Raw["phase5"] = new { minutes, rate, streams, before, after, idle, samples = samples.Select(s => new { minute = s.Minute, rss = s.Rss }).ToArray() };
        report.Finish(clock.Elapsed);
        var (json, markdown) = report.Write(Path.Combine(results, "soak"));
        Console.WriteLine();
        Console.WriteLine(report.ToMarkdown());
        Console.WriteLine($"written: {markdown} and {json}");
        return 0;
    }

    /// <summary>RSS by kind: anonymous (native and managed heaps, stacks), files (mapped binaries), shared (the runtime's double-mapped code).</summary>
    private static string RssParts(BenchProcess process) =>
        $"anonymous {Format.MiB(process.StatusBytes("RssAnon:"))}, files {Format.MiB(process.StatusBytes("RssFile:"))}, shared {Format.MiB(process.StatusBytes("RssShmem:"))}";

    /// <summary>What the runtime holds of that RSS, so a step in it can be told apart: managed heap, thread pool or JIT.</summary>
    private static async Task<string> RuntimeMemoryAsync(RouterService router)
    {
        var values = await router.MetricsAsync("dotnet_gc_heap_size_bytes", "dotnet_gc_committed_bytes", "dotnet_threadpool_threads",
            "dotnet_jit_compiled_methods_total", "dotnet_gc_collections_total{generation=\"2\"}");
        var (heap, committed, threads, methods, collections) = (values[0], values[1], values[2], values[3], values[4]);
        return heap is null || committed is null
            ? "no /metrics"
            : $"managed heap {Format.MiB(heap.Value)} (committed {Format.MiB(committed.Value)}), {threads} pool threads, {methods} methods compiled, {collections} gen-2 collections";
    }

    private sealed class Counters
    {
        public long Ok;
        public long Failed;
        public long StreamsOk;
        public long StreamsFailed;
        public long HangUps;
        public long ExpectedErrors;
        public long UnexpectedFailures => Interlocked.Read(ref Failed) + Interlocked.Read(ref StreamsFailed);

        public override string ToString() =>
            $"{Interlocked.Read(ref Ok):#,0} / {Interlocked.Read(ref Failed):#,0}, {Interlocked.Read(ref StreamsOk):#,0} / {Interlocked.Read(ref StreamsFailed):#,0}, " +
            $"{Interlocked.Read(ref HangUps):#,0}, {Interlocked.Read(ref ExpectedErrors):#,0}";
    }

    private static async Task NonStreamedAsync(BenchPath path, int rate, Counters counters, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var result = await OpenLoopLoad.RunAsync(path.Static, path.StaticRequest, rate, TimeSpan.FromSeconds(10), TimeSpan.Zero, 16);
            Interlocked.Add(ref counters.Ok, result.Measured - result.Errors);
            Interlocked.Add(ref counters.Failed, result.Errors + result.Unfinished);
        }
    }

    private static async Task StreamsAsync(BenchPath path, int streams, Counters counters, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            var run = await StreamLoad.ConcurrentAsync(path.Stream, path.StreamRequest, streams, BenchEnvironment.StreamTokens,
                TimeSpan.FromMilliseconds(BenchEnvironment.StreamIntervalMs), TimeSpan.FromMilliseconds(500), CancellationToken.None);
            Interlocked.Add(ref counters.StreamsOk, run.Streams - run.Failed);
            Interlocked.Add(ref counters.StreamsFailed, run.Failed);
        }
    }

    /// <summary>Clients that go away mid-answer: the router must cancel upstream and release the slot, every time.</summary>
    private static async Task HangUpsAsync(BenchPath path, Counters counters, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            using var connection = await RawHttpConnection.ConnectAsync(path.Stream, stop);
            using var hangUp = CancellationTokenSource.CreateLinkedTokenSource(stop);
            hangUp.CancelAfter(TimeSpan.FromMilliseconds(200 + Random.Shared.Next(400)));
            try
            {
                await connection.SendAsync(path.StreamRequest, new SseStreamSink(BenchEnvironment.StreamTokens), hangUp.Token);
            }
            catch (OperationCanceledException)
            {
            }
            Interlocked.Increment(ref counters.HangUps);
            await Task.Delay(100, CancellationToken.None);
        }
    }

    /// <summary>Requests the router must refuse cleanly: an unknown model (404) and a body that is not JSON (400).</summary>
    private static async Task FailuresAsync(BenchPath path, Counters counters, CancellationToken stop)
    {
        var bearer = System.Text.Encoding.UTF8.GetString(path.StaticRequest).Split("\r\n").FirstOrDefault(l => l.StartsWith("Authorization: Bearer ", StringComparison.Ordinal))?["Authorization: Bearer ".Length..];
        byte[][] requests =
        [
            RawRequest.PostJson(path.Static, "/v1/chat/completions", """{"model":"no-such-model","messages":[{"role":"user","content":"hi"}]}""", bearer),
            RawRequest.PostJson(path.Static, "/v1/chat/completions", """{"model":"chat","messages":[""", bearer),
        ];
        using var connection = await RawHttpConnection.ConnectAsync(path.Static, stop);
        var i = 0;
        while (!stop.IsCancellationRequested)
        {
            var response = await connection.SendAsync(requests[i++ % requests.Length], DiscardSink.Instance, CancellationToken.None);
            if (response.Status is 400 or 404) Interlocked.Increment(ref counters.ExpectedErrors);
            else Interlocked.Increment(ref counters.Failed);
            await Task.Delay(50, CancellationToken.None);
        }
    }
}
