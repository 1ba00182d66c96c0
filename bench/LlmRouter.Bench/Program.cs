using LlmRouter.Bench;

// Usage: dotnet bench/LlmRouter.Bench/bin/Release/net10.0/LlmRouter.Bench.dll <scenario> [options]
// Scenarios: token-latency, memory. See bench/README.md.
return await BenchCli.RunAsync(args);
