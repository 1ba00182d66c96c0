using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace LlmRouter.Bench.Report;

/// <summary>One line of the table: the same figure for each path, the bar, and whether the router meets it.</summary>
internal sealed record Row(string Phase, string Metric, string Direct, string Nginx, string Router, string Bar, bool? Pass);

/// <summary>The whole run: machine, table, notes and the raw per-run figures, written as JSON and Markdown.</summary>
internal sealed class BenchReport
{
    public string Date { get; init; } = DateTimeOffset.UtcNow.ToString("yyyy-MM-dd HH:mm 'UTC'", CultureInfo.InvariantCulture);
    public string Cpu { get; init; } = Machine.CpuModel();
    public int Cores { get; init; } = Machine.Cores();
    public string Commit { get; init; } = Machine.Commit();
    public string LoadAverageAtStart { get; init; } = Machine.LoadAverage();
    public string LoadAverageAtEnd { get; private set; } = "";
    /// <summary>
    /// The share of the machine's CPU time the hypervisor ran something else while this VM wanted to run (steal), over
    /// the run. Every path slows down with it, so runs with a high share compare badly with each other.
    /// </summary>
    public string Stolen { get; private set; } = "";
    private readonly Machine.CpuTimes _atStart = Machine.ReadCpuTimes();
    public string RouterAuth { get; set; } = "";
    public double Minutes { get; private set; }
    public List<Row> Rows { get; } = [];
    public List<string> Notes { get; } = [];
    public Dictionary<string, object> Raw { get; } = [];

    public string ToMarkdown()
    {
        var md = new StringBuilder();
        md.Append(CultureInfo.InvariantCulture, $"LlmRouter bench, {Date}: {Cpu}, {Cores} cores; commit {Commit}; load average {LoadAverageAtStart} at start, {LoadAverageAtEnd} at end; CPU stolen by the hypervisor {Stolen}; {Minutes:0.0} min.\n");
        md.Append(CultureInfo.InvariantCulture, $"Router path: {RouterAuth}, Redis live state, Postgres keys and usage. Proxies on CPU 1; client, backends, Redis and Postgres on CPU 0. Figures: median of runs (min–max).\n\n");
        md.Append("| phase | metric | direct | nginx | LlmRouter | bar (LlmRouter) | result |\n");
        md.Append("| --- | --- | --- | --- | --- | --- | --- |\n");
        foreach (var row in Rows)
        {
            var result = row.Pass switch { true => "pass", false => "**FAIL**", null => "" };
            md.Append(CultureInfo.InvariantCulture, $"| {row.Phase} | {row.Metric} | {row.Direct} | {row.Nginx} | {row.Router} | {row.Bar} | {result} |\n");
        }
        if (Notes.Count > 0)
        {
            md.Append('\n');
            foreach (var note in Notes) md.Append("- ").Append(note).Append('\n');
        }
        return md.ToString();
    }

    /// <summary>Records what the machine did over the run (load average, steal) and how long it took.</summary>
    public void Finish(TimeSpan elapsed)
    {
        LoadAverageAtEnd = Machine.LoadAverage();
        Stolen = Machine.ReadCpuTimes().StolenSince(_atStart) is var share && double.IsNaN(share)
            ? "?" : share.ToString("0.0'%'", CultureInfo.InvariantCulture);
        Minutes = elapsed.TotalMinutes;
    }

    public string ToJson() => JsonSerializer.Serialize(this, new JsonSerializerOptions
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    });

    public (string Json, string Markdown) Write(string directory)
    {
        Directory.CreateDirectory(directory);
        var stem = Path.Combine(directory, "bench-" + DateTimeOffset.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture));
        File.WriteAllText(stem + ".json", ToJson());
        File.WriteAllText(stem + ".md", ToMarkdown());
        File.WriteAllText(Path.Combine(directory, "latest.json"), ToJson());
        File.WriteAllText(Path.Combine(directory, "latest.md"), ToMarkdown());
        return (stem + ".json", stem + ".md");
    }
}

internal static class Format
{
    public static string Micros(double us) => double.IsNaN(us) ? "–"
        : Math.Abs(us) >= 10_000 ? string.Create(CultureInfo.InvariantCulture, $"{us / 1000:0.0} ms")
        : string.Create(CultureInfo.InvariantCulture, $"{us:0} µs");

    public static string AddedMicros(double us) => double.IsNaN(us) ? "–" : (us >= 0 ? "+" : "−") + Micros(Math.Abs(us));

    public static string Spread(Repeated r, Func<double, string> one) =>
        double.IsNaN(r.Median) ? "–" : r.Runs.Count <= 1 || one(r.Min) == one(r.Max) ? one(r.Median) : $"{one(r.Median)} ({one(r.Min)} – {one(r.Max)})";

    public static string Rate(double rps) => double.IsNaN(rps) ? "–" : string.Create(CultureInfo.InvariantCulture, $"{rps:#,0} rps");

    public static string MiB(double bytes) => double.IsNaN(bytes) ? "–" : string.Create(CultureInfo.InvariantCulture, $"{bytes / 1048576.0:0.0} MiB");

    public static string Number(double value, string format = "0.###") => double.IsNaN(value) ? "–" : value.ToString(format, CultureInfo.InvariantCulture);
}

internal static class Machine
{
    public static string CpuModel()
    {
        try
        {
            var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
            return line?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        }
        catch (IOException)
        {
            return "unknown CPU";
        }
    }

    /// <summary>Online CPUs of the machine (not this process's affinity, which the bench narrows to one).</summary>
    public static int Cores()
    {
        try
        {
            return File.ReadLines("/proc/cpuinfo").Count(l => l.StartsWith("processor", StringComparison.Ordinal));
        }
        catch (IOException)
        {
            return Environment.ProcessorCount;
        }
    }

    /// <summary>The machine's CPU time so far (all CPUs, in clock ticks) and the part of it the hypervisor took (steal).</summary>
    public readonly record struct CpuTimes(long Total, long Steal)
    {
        public double StolenSince(CpuTimes start) =>
            Total > start.Total ? (Steal - start.Steal) * 100.0 / (Total - start.Total) : double.NaN;
    }

    /// <summary>From the first line of /proc/stat: user nice system idle iowait irq softirq steal, summed.</summary>
    public static CpuTimes ReadCpuTimes()
    {
        try
        {
            var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries);
            var ticks = fields.Skip(1).Take(8).Select(f => long.Parse(f, CultureInfo.InvariantCulture)).ToArray();
            return ticks.Length == 8 ? new CpuTimes(ticks.Sum(), ticks[7]) : default;
        }
        catch (Exception e) when (e is IOException or FormatException or InvalidOperationException)
        {
            return default;
        }
    }

    public static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "?";
        }
    }

    public static string Commit()
    {
        try
        {
            var info = new System.Diagnostics.ProcessStartInfo("git", "rev-parse --short HEAD") { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Services.RepoPaths.Root() };
            using var process = System.Diagnostics.Process.Start(info)!;
            var text = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit();
            var dirty = new System.Diagnostics.ProcessStartInfo("git", "status --porcelain --untracked-files=no") { RedirectStandardOutput = true, WorkingDirectory = Services.RepoPaths.Root() };
            using var status = System.Diagnostics.Process.Start(dirty)!;
            var changes = status.StandardOutput.ReadToEnd().Trim();
            status.WaitForExit();
            return text.Length == 0 ? "unknown" : changes.Length > 0 ? text + "+changes" : text;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            return "unknown";
        }
    }
}
