using System.Diagnostics;
using System.Net;
using LlmRouter.Bench.Http;
using LlmRouter.Bench.Report;

namespace LlmRouter.Bench.Load;

/// <summary>What a set of streamed answers looked like at the client.</summary>
internal sealed record StreamRun(
    int Streams,
    int Failed,
    long ChunksExpected,
    long ChunksDelivered,
    /// <summary>Gaps between consecutive chunks of one stream longer than the stall threshold.</summary>
    int Stalls,
    /// <summary>Chunks read more than one token interval after the simulator wrote them: held back somewhere.</summary>
    int HeldBack,
    double[] ChunkLatencyMicros,
    double[] TtftMicros,
    double MaxGapMillis)
{
    public double ErrorRate => Streams == 0 ? 0 : (double)Failed / Streams;
}

/// <summary>
/// Streamed answers from a simulator that stamps each token with its write time: write→read latency per chunk, time to
/// first token, gaps between chunks, and whether every chunk arrived.
/// </summary>
internal static class StreamLoad
{
    /// <summary><paramref name="streams"/> answers at once, their starts spread over <paramref name="spread"/>.</summary>
    public static async Task<StreamRun> ConcurrentAsync(IPEndPoint server, byte[] request, int streams, int chunks, TimeSpan interval,
        TimeSpan spread, CancellationToken cancellationToken)
    {
        var connections = new RawHttpConnection[streams];
        // Connect in modest batches: a thousand SYNs at once overflow a default accept backlog.
        for (var i = 0; i < streams; i += 64)
        {
            var batch = Enumerable.Range(i, Math.Min(64, streams - i)).Select(async j => connections[j] = await RawHttpConnection.ConnectAsync(server, cancellationToken));
            await Task.WhenAll(batch);
        }
        try
        {
            var start = Stopwatch.GetTimestamp();
            var results = await Task.WhenAll(Enumerable.Range(0, streams).Select(i => Task.Run(async () =>
            {
                var due = spread * i / streams - Stopwatch.GetElapsedTime(start);
                if (due > TimeSpan.FromMilliseconds(1)) await Task.Delay(due, cancellationToken);
                return await OneAsync(connections[i], request, chunks, cancellationToken);
            }, cancellationToken)));
            return Summarise(results, chunks, interval);
        }
        finally
        {
            foreach (var connection in connections) connection?.Dispose();
        }
    }

    /// <summary><paramref name="streams"/> answers one after another on one connection.</summary>
    public static async Task<StreamRun> SequentialAsync(IPEndPoint server, byte[] request, int streams, int chunks, TimeSpan interval,
        CancellationToken cancellationToken)
    {
        using var connection = await RawHttpConnection.ConnectAsync(server, cancellationToken);
        var results = new List<OneStream>(streams);
        for (var i = 0; i < streams; i++) results.Add(await OneAsync(connection, request, chunks, cancellationToken));
        return Summarise(results, chunks, interval);
    }

    private sealed record OneStream(bool Ok, long SentAt, SseStreamSink Sink);

    private static async Task<OneStream> OneAsync(RawHttpConnection connection, byte[] request, int chunks, CancellationToken cancellationToken)
    {
        var sink = new SseStreamSink(chunks);
        var sentAt = Stopwatch.GetTimestamp();
        try
        {
            var response = await connection.SendAsync(request, sink, cancellationToken);
            return new OneStream(response.Status == 200 && sink.Done && !sink.Error && sink.Chunks == chunks && sink.Extra == 0, sentAt, sink);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or OperationCanceledException)
        {
            return new OneStream(false, sentAt, sink);
        }
    }

    private static StreamRun Summarise(IReadOnlyList<OneStream> results, int chunks, TimeSpan interval)
    {
        var latencies = new List<double>(results.Count * chunks);
        var ttft = new List<double>(results.Count);
        var stallTicks = (long)(interval.TotalSeconds * 2 * Stopwatch.Frequency);
        var heldBackMicros = interval.TotalMilliseconds * 1000;
        var stalls = 0;
        var heldBack = 0;
        long delivered = 0;
        long maxGap = 0;
        foreach (var (_, sentAt, sink) in results)
        {
            delivered += sink.Chunks;
            if (sink.Chunks > 0) ttft.Add(Stats.TicksToMicros(sink.ReadAt[0] - sentAt));
            for (var k = 0; k < sink.Chunks; k++)
            {
                var latency = Stats.TicksToMicros(sink.ReadAt[k] - sink.Stamps[k]);
                latencies.Add(latency);
                if (latency > heldBackMicros) heldBack++;
                if (k == 0) continue;
                var gap = sink.ReadAt[k] - sink.ReadAt[k - 1];
                if (gap > stallTicks) stalls++;
                if (gap > maxGap) maxGap = gap;
            }
        }
        var sortedLatencies = latencies.ToArray();
        Array.Sort(sortedLatencies);
        var sortedTtft = ttft.ToArray();
        Array.Sort(sortedTtft);
        return new StreamRun(results.Count, results.Count(r => !r.Ok), (long)results.Count * chunks, delivered, stalls, heldBack,
            sortedLatencies, sortedTtft, Stats.TicksToMicros(maxGap) / 1000);
    }
}
