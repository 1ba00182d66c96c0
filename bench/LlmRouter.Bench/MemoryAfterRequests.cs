using System.Text;

namespace LlmRouter.Bench;

/// <summary>The router's resident memory before and after N requests (half streamed), 8 at a time.</summary>
internal static class MemoryAfterRequests
{
    public static async Task RunAsync(Options options)
    {
        await using var sim = await Launched.SimulatorAsync("--tokens", "16", "--max-parallel", "64");
        await using var router = await Launched.RouterAsync($$"""
            model_list:
              - model_name: chat
                litellm_params: { model: ollama_chat/llama3.1:8b, api_base: {{sim.BaseUrl}} }
            """);
        using var http = new HttpClient();
        await SendAsync(http, router.BaseUrl, 200);
        var before = router.RssBytes();
        var started = System.Diagnostics.Stopwatch.StartNew();
        await SendAsync(http, router.BaseUrl, options.Requests);
        var elapsed = started.Elapsed;
        var after = router.RssBytes();
        Console.WriteLine($"| requests | RSS after warm-up | RSS after | change | rate |");
        Console.WriteLine($"| --- | --- | --- | --- | --- |");
        Console.WriteLine($"| {options.Requests} | {before / 1048576.0:0.0} MiB | {after / 1048576.0:0.0} MiB | {(after - before) * 100.0 / before:+0.0;-0.0}% | {options.Requests / elapsed.TotalSeconds:0} req/s |");
    }

    private static async Task SendAsync(HttpClient http, Uri baseUrl, int count)
    {
        var next = -1;
        var failures = 0;
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < count)
            {
                var stream = next % 2 == 0 ? "true" : "false";
                using var content = new StringContent($$"""{"model":"chat","stream":{{stream}},"messages":[{"role":"user","content":"hello"}]}""", Encoding.UTF8, "application/json");
                using var response = await http.PostAsync(new Uri(baseUrl, "v1/chat/completions"), content);
                await response.Content.ReadAsByteArrayAsync();
                if (!response.IsSuccessStatusCode) Interlocked.Increment(ref failures);
            }
        }));
        if (failures > 0) throw new InvalidOperationException($"{failures} requests failed");
    }
}
