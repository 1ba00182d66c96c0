using System.Diagnostics;
using System.Net;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// A replica killed mid-request cannot settle its slot; the slot is a lease the dead replica no longer renews, so
/// its count vanishes within <c>lease_ttl</c> and the other replica gets the deployment back.
/// </summary>
public sealed class ReplicaCrashTests(ITestOutputHelper output)
{
    private const int LeaseTtlSeconds = 2;

    /// <summary>Generous for a loaded 2-core machine; a leaked count would never free up at all.</summary>
    private static readonly TimeSpan Margin = TimeSpan.FromSeconds(6);

    [Fact]
    public async Task ReplicaKilledMidRequest_ItsSlotFreesWithinLeaseTtl()
    {
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions()],
            sims => new RouterConfig
            {
                Deployments =
                [
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "sim-a") { Params = "max_parallel_requests: 1" },
                ],
                // No queue: a refused request answers 503 at once, so the test sees each refusal.
                Router = new Dictionary<string, string> { ["lease_ttl"] = $"{LeaseTtlSeconds}", ["queue_size"] = "0" },
            },
            routers: 2, redis: true);
        var (doomed, survivor) = (cluster.Routers[0], cluster.Routers[1]);
        var simulator = cluster.Simulators[0].Control;
        await simulator.HoldAsync();

        var inFlight = doomed.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello")));
        await Eventually.UntilAsync(simulator.GetStatsAsync, s => s.Received == 1, "the first request at the simulator");
        using (var refused = await SendAsync(survivor))
        {
            // The other replica sees the slot as taken: the count is shared.
            await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.ServiceUnavailable, code: "overloaded");
        }

        await Cluster.KillAsync(doomed.Process);
        var clock = Stopwatch.StartNew();
        await Assert.ThrowsAnyAsync<Exception>(() => inFlight);
        await simulator.ReleaseAsync();
        var refusals = 0;
        // Each probe that the dead replica's slot still refuses answers 503 at once (no queue); the first 200 is the moment it vanished.
        await Eventually.UntilAsync(
            async () =>
            {
                using var response = await SendAsync(survivor);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    return true;
                }

                await OpenAiErrorAssert.IsErrorAsync(response, HttpStatusCode.ServiceUnavailable, code: "overloaded");
                refusals++;
                return false;
            },
            ok => ok, $"the killed replica's slot to free up (lease_ttl {LeaseTtlSeconds} s)", TimeSpan.FromSeconds(LeaseTtlSeconds) + Margin);

        output.WriteLine($"MEASURED lease vanish: {clock.Elapsed.TotalSeconds:0.00} s after kill -9 (lease_ttl {LeaseTtlSeconds} s, {refusals} refusals meanwhile)");
    }

    private static Task<HttpResponseMessage> SendAsync(RouterProcess router) =>
        router.Http.SendAsync(Requests.Post("v1/chat/completions", Requests.Chat("chat", "hello")));
}
