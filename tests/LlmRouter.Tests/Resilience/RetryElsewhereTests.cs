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

    /// <summary>
    /// A non-streamed answer that fails partway has sent the client nothing yet: it is another failed attempt, retried on
    /// the other deployment, and the client gets that one's whole answer.
    /// </summary>
    [Theory]
    [InlineData(SimFault.ErrorMid, Requests)]
    [InlineData(SimFault.DropMid, Requests)]
    // Each visit to the stalled one costs idle_timeout: fewer requests (all missing it is 1 in 4,096).
    [InlineData(SimFault.HangMid, 12)]
    public async Task NonStreamed_OneDeploymentFailingMidAnswer_ServedWholeByTheOther(string fault, int requests)
    {
        const int tokens = 8;
        await using var cluster = await Cluster.StartAsync(output,
            [new SimulatorOptions { Fault = fault, FaultAfterTokens = 3, Tokens = tokens }, new SimulatorOptions { Tokens = tokens }],
            sims => new RouterConfig
            {
                Deployments =
                [
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[0].ApiBase, "failing"),
                    new("chat", $"ollama_chat/{RouterEnvironment.ChatModel}", sims[1].ApiBase, "healthy"),
                ],
                Router = new Dictionary<string, string> { ["allowed_fails"] = "1000", ["idle_timeout"] = "1" },
            });

        for (var i = 0; i < requests; i++)
        {
            using var response = await cluster.Router.Http.SendAsync(
                Infrastructure.Requests.Post("v1/chat/completions", Infrastructure.Requests.Chat("chat", "hello", stream: false)));
            var body = await response.ReadJsonAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"Request {i + 1}: {(int)response.StatusCode} {body.ToJsonString()}");
            Assert.Equal("healthy", response.Header("x-llmrouter-backend"));
            Assert.Equal(Integration.ChatTests.SimulatorText(tokens), body["choices"]?[0]?["message"]?["content"]?.GetValue<string>());
            Assert.Equal(tokens, body["usage"]?["completion_tokens"]?.GetValue<int>());
        }

        var failing = await cluster.Simulators[0].Control.GetStatsAsync();
        output.WriteLine($"{failing.Received} of {requests} requests met the failing deployment first");
        Assert.True(failing.Received > 0, "No request was ever sent to the failing deployment.");
        Assert.Equal(requests, (await cluster.Simulators[1].Control.GetStatsAsync()).Completed);
    }
}
