using LlmRouter.Bench.Phases;
using LlmRouter.Bench.Services;

namespace LlmRouter.Bench;

/// <summary>
/// <c>serve</c>: starts the bench environment and keeps it up until stdin closes or Enter is pressed, printing each
/// path's ports and the proxies' process ids, so a profiler (dotnet-trace, perf) or wrk can be pointed at it by hand.
/// </summary>
internal static class Serve
{
    public static async Task<int> RunAsync()
    {
        await using var env = await BenchEnvironment.StartAsync(line => Console.Error.WriteLine(line));
        foreach (var path in env.Paths)
        {
            Console.WriteLine($"{path.Name}: non-streaming http://{path.Static}/v1/chat/completions, streaming http://{path.Stream}/v1/chat/completions" +
                (path.Proxy is null ? "" : $", pid {path.Proxy.Id}"));
        }
        var request = env.Path(BenchPath.Router).StaticRequest;
        var text = System.Text.Encoding.UTF8.GetString(request);
        Console.WriteLine("router request:\n" + text);
        Console.WriteLine("press Enter (or close stdin) to stop");
        await Console.In.ReadLineAsync();
        return 0;
    }
}
