using System.Diagnostics;

namespace LlmRouter.Bench.Report;

internal static class Stats
{
    public static double TicksToMicros(long ticks) => ticks * 1_000_000.0 / Stopwatch.Frequency;

    /// <summary>Nearest-rank percentile of an unsorted sample (sorts a copy).</summary>
    public static double Percentile(IReadOnlyCollection<double> values, double percentile)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.ToArray();
        Array.Sort(sorted);
        return PercentileOfSorted(sorted, percentile);
    }

    public static double PercentileOfSorted(double[] sorted, double percentile)
    {
        if (sorted.Length == 0) return double.NaN;
        var rank = (int)Math.Ceiling(percentile / 100 * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    public static double Median(IReadOnlyCollection<double> values) => values.Count == 0 ? double.NaN : Percentile(values, 50);
}

/// <summary>A figure repeated over runs: the median and the spread.</summary>
internal sealed record Repeated(double Median, double Min, double Max, IReadOnlyList<double> Runs)
{
    public static Repeated Of(IEnumerable<double> runs)
    {
        var values = runs.Where(v => !double.IsNaN(v)).ToArray();
        if (values.Length == 0) return new Repeated(double.NaN, double.NaN, double.NaN, []);
        return new Repeated(Stats.Median(values), values.Min(), values.Max(), values);
    }
}
