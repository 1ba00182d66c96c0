using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace LlmRouter.Bench;

/// <summary>
/// Time from the simulator writing a token to the client reading it: the simulator stamps each token with
/// Stopwatch.GetTimestamp() (CLOCK_MONOTONIC, shared by processes on one machine) just before writing it.
/// Measured direct (native NDJSON) and through the router (OpenAI SSE), same run, same client.
/// </summary>
internal static class TokenLatency
{
    public static async Task RunAsync(Options options)
    {
        await using var sim = await Launched.SimulatorAsync("--timestamp-tokens", "--tokens", options.Tokens.ToString(), "--token-interval-ms", "5", "--max-parallel", "64");
        await using var router = await Launched.RouterAsync($$"""
            model_list:
              - model_name: chat
                litellm_params: { model: ollama_chat/llama3.1:8b, api_base: {{sim.BaseUrl}} }
            """);
        using var http = new HttpClient();
        // Warm up both paths so the JIT has settled.
        for (var i = 0; i < 20; i++)
        {
            await MeasureAsync(http, sim.BaseUrl, direct: true);
            await MeasureAsync(http, router.BaseUrl, direct: false);
        }
        var directUs = new List<double>();
        var routerUs = new List<double>();
        for (var i = 0; i < options.Streams; i++)
        {
            directUs.AddRange(await MeasureAsync(http, sim.BaseUrl, direct: true));
            routerUs.AddRange(await MeasureAsync(http, router.BaseUrl, direct: false));
        }
        Console.WriteLine($"token write→read latency over {routerUs.Count} tokens ({options.Streams} streams × {options.Tokens}, 5 ms apart)");
        Console.WriteLine("| path | p50 µs | p90 µs | p99 µs |");
        Console.WriteLine("| --- | --- | --- | --- |");
        Console.WriteLine($"| direct (native NDJSON) | {P(directUs, 50):0} | {P(directUs, 90):0} | {P(directUs, 99):0} |");
        Console.WriteLine($"| through LlmRouter (SSE) | {P(routerUs, 50):0} | {P(routerUs, 90):0} | {P(routerUs, 99):0} |");
    }

    private static async Task<List<double>> MeasureAsync(HttpClient http, Uri baseUrl, bool direct)
    {
        var body = direct
            ? """{"model":"llama3.1:8b","stream":true,"messages":[{"role":"user","content":"hi"}]}"""
            : """{"model":"chat","stream":true,"messages":[{"role":"user","content":"hi"}]}""";
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(baseUrl, direct ? "api/chat" : "v1/chat/completions"))
        {
            Content = new StringContent(body, Encoding.UTF8, new MediaTypeHeaderValue("application/json")),
        };
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync());
        var samples = new List<double>();
        while (await reader.ReadLineAsync() is { } line)
        {
            var now = Stopwatch.GetTimestamp();
            var json = direct ? line : line.StartsWith("data: {", StringComparison.Ordinal) ? line[6..] : null;
            if (json is null) continue;
            using var doc = JsonDocument.Parse(json);
            var text = direct
                ? doc.RootElement.TryGetProperty("message", out var m) ? m.GetProperty("content").GetString() : null
                : doc.RootElement.GetProperty("choices") is { ValueKind: JsonValueKind.Array } c && c.GetArrayLength() > 0
                  && c[0].GetProperty("delta").TryGetProperty("content", out var t) ? t.GetString() : null;
            if (long.TryParse(text?.Trim(), out var stamp) && stamp > 0) samples.Add((now - stamp) * 1_000_000.0 / Stopwatch.Frequency);
        }
        return samples;
    }

    internal static double P(List<double> values, double percentile)
    {
        if (values.Count == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(percentile / 100 * sorted.Length) - 1)];
    }
}
