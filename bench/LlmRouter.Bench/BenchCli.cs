namespace LlmRouter.Bench;

internal static class BenchCli
{
    public static async Task<int> RunAsync(string[] args)
    {
        var scenario = args.FirstOrDefault() ?? "help";
        var options = Options.Parse(args.Skip(1).ToArray());
        switch (scenario)
        {
            case "token-latency":
                await TokenLatency.RunAsync(options);
                return 0;
            case "memory":
                await MemoryAfterRequests.RunAsync(options);
                return 0;
            case "suite":
                return await Suite.RunAsync(args.Skip(1).ToArray());
            case "overhead":
                return await Overhead.RunAsync(args.Skip(1).ToArray());
            case "serve":
                return await Serve.RunAsync();
            case "soak":
                return await Soak.RunAsync(args.Skip(1).ToArray());
            case "rate":
                return await Probes.RateAsync(args.Skip(1).ToArray());
            case "streams":
                return await Probes.StreamsAsync(args.Skip(1).ToArray());
            default:
                Console.Error.WriteLine("usage: LlmRouter.Bench suite [--repeats N] [--phases 1,2,3,4,6] [--results DIR]");
                Console.Error.WriteLine("       LlmRouter.Bench soak [--minutes N] [--results DIR]");
                Console.Error.WriteLine("       LlmRouter.Bench overhead [--repeats N]");
                Console.Error.WriteLine("       LlmRouter.Bench rate --port N --rate RPS [--seconds S] [--bearer KEY] [--model chat]");
                Console.Error.WriteLine("       LlmRouter.Bench streams --port N [--streams 256] [--bearer KEY] [--model stream]");
                Console.Error.WriteLine("       LlmRouter.Bench token-latency|memory [--requests N] [--tokens N]");
                return 2;
        }
    }
}

internal sealed record Options(int Requests, int Tokens, int Streams)
{
    public static Options Parse(string[] args)
    {
        int Get(string name, int fallback)
        {
            var i = Array.IndexOf(args, name);
            return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
        }
        return new Options(Get("--requests", 10_000), Get("--tokens", 100), Get("--streams", 10));
    }
}
