using System.Globalization;
using System.Text;
using LlmRouter.LiveState;
using LlmRouter.Routing;

namespace LlmRouter.Metrics;

/// <summary>
/// <c>GET /metrics</c> in Prometheus' text format, without auth (as LiteLLM serves it): plain counters the process
/// already keeps, read on demand, so the hot path pays nothing for them. The bench reads the Redis round trips from here
/// to count them at the client rather than in Redis (where every call inside a script counts).
/// </summary>
internal static class MetricsApi
{
    private const string ContentType = "text/plain; version=0.0.4; charset=utf-8";

    public static IEndpointRouteBuilder MapMetricsApi(this IEndpointRouteBuilder app)
    {
        app.MapGet("/metrics", (RedisLiveState liveState, KeyCounterRebuilds rebuilds) => TypedResults.Text(Render(liveState, rebuilds), ContentType))
            .WithName("Metrics").WithTags("Metrics").WithSummary("Prometheus text: Redis round trips, Redis connection, key counter rebuilds, process memory, GC and JIT.");
        return app;
    }

    internal static string Render(RedisLiveState liveState, KeyCounterRebuilds rebuilds)
    {
        var text = new StringBuilder(512);
        Counter(text, "llmrouter_redis_round_trips_total", "Redis calls made for requests (admission and settle), counted by the router's client.", liveState.RoundTrips);
        var spares = liveState.Spares;
        Counter(text, "llmrouter_spare_admissions_used_total", "Requests admitted with an admission taken ahead, without waiting for Redis.", spares.Used);
        Counter(text, "llmrouter_spare_admissions_released_total", "Admissions taken ahead that no request used, given back.", spares.Released);
        Gauge(text, "llmrouter_spare_admissions_waiting", "Admissions taken ahead, waiting for a request now.", spares.Waiting);
        Gauge(text, "llmrouter_redis_connected", "1 while live state is shared through Redis, 0 while process-local.", liveState.IsShared ? 1 : 0);
        Gauge(text, "llmrouter_replicas", "Replicas sharing Redis, as it last said (each counts itself every lease heartbeat); while Redis is away each holds a key to this share of its limits.", liveState.Replicas);
        Counter(text, "llmrouter_key_counter_rebuilds_total", "Rebuilds of a key's live counters from its recorded usage, one read of Postgres each (first use in a period, Redis lost them, a start without Redis).", rebuilds.Started);
        Gauge(text, "llmrouter_key_counter_rebuilds_waiting", "Requests waiting for a key's counters to be rebuilt now.", rebuilds.Waiting);
        Gauge(text, "process_resident_memory_bytes", "Resident memory of the router process.", Environment.WorkingSet);
        var gc = GC.GetGCMemoryInfo();
        Gauge(text, "dotnet_gc_heap_size_bytes", "Managed heap size after the last garbage collection.", gc.HeapSizeBytes);
        Gauge(text, "dotnet_gc_committed_bytes", "Memory the garbage collector has committed for the managed heap.", gc.TotalCommittedBytes);
        Gauge(text, "dotnet_threadpool_threads", "Threads in the runtime's thread pool now.", ThreadPool.ThreadCount);
        text.Append("# HELP dotnet_gc_collections_total Garbage collections by generation.\n# TYPE dotnet_gc_collections_total counter\n");
        for (var generation = 0; generation <= GC.MaxGeneration; generation++)
        {
            text.Append(CultureInfo.InvariantCulture, $"dotnet_gc_collections_total{{generation=\"{generation}\"}} {GC.CollectionCount(generation)}\n");
        }
        Counter(text, "dotnet_gc_allocated_bytes_total", "Bytes allocated on the managed heap since the process started.", GC.GetTotalAllocatedBytes());
        text.Append(CultureInfo.InvariantCulture,
            $"# HELP dotnet_gc_pause_seconds_total Time the process was paused for garbage collection.\n# TYPE dotnet_gc_pause_seconds_total counter\ndotnet_gc_pause_seconds_total {GC.GetTotalPauseDuration().TotalSeconds:0.######}\n");
        // Still growing long after start-up means the JIT is still re-compiling hot code (a benchmark's warm-up waits for it).
        Counter(text, "dotnet_jit_compiled_methods_total", "Methods compiled by the JIT, every tier.", System.Runtime.JitInfo.GetCompiledMethodCount());
        Counter(text, "dotnet_jit_compiled_il_bytes_total", "IL bytes compiled by the JIT, every tier.", System.Runtime.JitInfo.GetCompiledILBytes());
        return text.ToString();
    }

    private static void Counter(StringBuilder text, string name, string help, long value) => Write(text, name, "counter", help, value);

    private static void Gauge(StringBuilder text, string name, string help, long value) => Write(text, name, "gauge", help, value);

    private static void Write(StringBuilder text, string name, string type, string help, long value) =>
        text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value}\n");
}
