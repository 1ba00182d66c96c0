using System.Globalization;
using System.Net;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// A failure before the first byte is retried on another deployment of the group: the client gets the healthy
/// one's 200 and <c>x-llmrouter-attempts: 2</c>, never the failing one's error, streamed or not.
/// </summary>
public sealed class RetryElsewhereTests(ITestOutputHelper output)
{
    /// <summary>Least-busy breaks ties at random, so about half go to the failing one first; 20 make "none did" a one-in-a-million event.</summary>
    private const int Requests = 20;

    [Theory]
    [InlineData(SimFault.ErrorBefore)]
    [InlineData(SimFault.Busy)]
    public async Task OneDeploymentFailing_ServedByTheOtherOnSecondAttempt(string fault)
    {
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions { Fault = fault }, new SimulatorOptions()],
            sims => new RouterConfig
            {
                Deployments =
                [
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "failing"),
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[1].ApiBase, "healthy"),
                ],
                // Never cooled down, so every request may meet the failing one first.
                Router = new Dictionary<string, string> { ["allowed_fails"] = "1000" },
            });

        var extraAttempts = 0;
        for (var i = 0; i < Requests; i++)
        {
            var stream = i % 2 == 1;
            using var response = await cluster.Router.Http.SendAsync(
                Infrastructure.Requests.Post("v1/chat/completions", Infrastructure.Requests.Chat("chat", "hello", stream)));
            var body = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"Request {i + 1}: {(int)response.StatusCode} {body}");
            Assert.True(!stream || body.Contains("data: [DONE]", StringComparison.Ordinal), $"Request {i + 1} streamed no clean end: {body}");
            Assert.Equal("healthy", response.Header("x-llmrouter-backend"));
            var attempts = int.Parse(response.Header("x-llmrouter-attempts")!, CultureInfo.InvariantCulture);
            Assert.InRange(attempts, 1, 2);
            extraAttempts += attempts - 1;
        }

        // Every visit to the failing deployment cost exactly one extra attempt, and there were some.
        var failing = await cluster.Simulators[0].Control.GetStatsAsync();
        output.WriteLine($"{failing.Received} of {Requests} requests met the failing deployment first");
        Assert.True(failing.Received > 0, "No request was ever sent to the failing deployment.");
        Assert.Equal(failing.Received, extraAttempts);
        Assert.Equal(Requests, (await cluster.Simulators[1].Control.GetStatsAsync()).Completed);
    }
}
