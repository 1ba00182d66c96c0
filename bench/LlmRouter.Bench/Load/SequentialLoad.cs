using System.Diagnostics;
using System.Net;
using LlmRouter.Bench.Http;
using LlmRouter.Bench.Report;

namespace LlmRouter.Bench.Load;

/// <summary>Latencies in microseconds, sorted, and how many requests failed.</summary>
internal sealed record LatencySample(double[] SortedMicros, int Errors)
{
    public int Count => SortedMicros.Length;
    public double P50 => Stats.PercentileOfSorted(SortedMicros, 50);
    public double P99 => Stats.PercentileOfSorted(SortedMicros, 99);
    public double Max => SortedMicros.Length == 0 ? double.NaN : SortedMicros[^1];
}

/// <summary>One request at a time on one keep-alive connection, back to back, for a fixed time.</summary>
internal static class SequentialLoad
{
    public static async Task<LatencySample> RunAsync(IPEndPoint server, byte[] request, TimeSpan duration)
    {
        var connection = await RawHttpConnection.ConnectAsync(server);
        try
        {
            var samples = new List<double>(64 * 1024);
            var errors = 0;
            var end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
            while (Stopwatch.GetTimestamp() < end)
            {
                var start = Stopwatch.GetTimestamp();
                RawResponse response;
                try
                {
                    response = await connection.SendAsync(request, DiscardSink.Instance, CancellationToken.None);
                }
                catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
                {
                    errors++;
                    connection.Dispose();
                    connection = await RawHttpConnection.ConnectAsync(server);
                    continue;
                }
                samples.Add(Stats.TicksToMicros(Stopwatch.GetTimestamp() - start));
                if (response.Status != 200) errors++;
                if (!response.KeepAlive)
                {
                    connection.Dispose();
                    connection = await RawHttpConnection.ConnectAsync(server);
                }
            }
            var sorted = samples.ToArray();
            Array.Sort(sorted);
            return new LatencySample(sorted, errors);
        }
        finally
        {
            connection.Dispose();
        }
    }
}
