using System.Globalization;
using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using LlmRouter.Bench.Services;

namespace LlmRouter.Bench.Load;

internal sealed record WrkResult(double RequestsPerSecond, long Requests, long Errors);

/// <summary>Closed-loop maximum throughput with wrk (one thread, fixed connections), posting the same request bytes.</summary>
internal static partial class WrkLoad
{
    public static async Task<WrkResult> RunAsync(string workDir, IPEndPoint server, byte[] request, int connections, TimeSpan duration)
    {
        var script = Path.Combine(workDir, $"wrk-{server.Port}.lua");
        if (!File.Exists(script)) await File.WriteAllTextAsync(script, LuaFor(request));
        var output = await BenchProcess.RunAsync("wrk", "-t1", $"-c{connections}", $"-d{(int)duration.TotalSeconds}s", "-s", script, $"http://{server}/v1/chat/completions");
        var rps = RpsLine().Match(output);
        var total = TotalLine().Match(output);
        var non2xx = Non2xxLine().Match(output);
        var socketErrors = SocketErrorsLine().Match(output);
        long errors = non2xx.Success ? long.Parse(non2xx.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
        if (socketErrors.Success)
        {
            foreach (var group in new[] { 1, 2, 3, 4 }) errors += long.Parse(socketErrors.Groups[group].Value, CultureInfo.InvariantCulture);
        }
        return new WrkResult(rps.Success ? double.Parse(rps.Groups[1].Value, CultureInfo.InvariantCulture) : double.NaN,
            total.Success ? long.Parse(total.Groups[1].Value, CultureInfo.InvariantCulture) : 0, errors);
    }

    /// <summary>The request's headers and body as a wrk script (the raw request is the source of truth).</summary>
    private static string LuaFor(byte[] request)
    {
        var text = Encoding.UTF8.GetString(request);
        var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
        var lines = text[..split].Split("\r\n").Skip(1);
        var body = text[(split + 4)..];
        var lua = new StringBuilder("wrk.method = \"POST\"\n");
        lua.Append("wrk.body = ").Append(LuaString(body)).Append('\n');
        foreach (var line in lines)
        {
            var colon = line.IndexOf(':', StringComparison.Ordinal);
            var name = line[..colon];
            if (name is "Host" or "Content-Length") continue;
            lua.Append("wrk.headers[").Append(LuaString(name)).Append("] = ").Append(LuaString(line[(colon + 1)..].Trim())).Append('\n');
        }
        return lua.ToString();
    }

    private static string LuaString(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    [GeneratedRegex(@"Requests/sec:\s+([0-9.]+)")]
    private static partial Regex RpsLine();

    [GeneratedRegex(@"([0-9]+) requests in")]
    private static partial Regex TotalLine();

    [GeneratedRegex(@"Non-2xx or 3xx responses:\s+([0-9]+)")]
    private static partial Regex Non2xxLine();

    [GeneratedRegex(@"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)")]
    private static partial Regex SocketErrorsLine();
}
