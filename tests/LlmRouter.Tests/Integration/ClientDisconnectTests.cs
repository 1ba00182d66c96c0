using System.Net;
using LlmRouter.Tests.Infrastructure;
using OpenAI.Chat;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>When the client goes away, the router must cancel the upstream request at once so the GPU stops.</summary>
public sealed class ClientDisconnectTests(ITestOutputHelper output) : IsolatedRouterTest(output)
{
    private const int EndlessTokens = 100_000;

    protected override Task<RouterEnvironment> StartEnvironmentAsync() =>
        RouterEnvironment.StartSingleBackendAsync(new SimulatorOptions
        {
            Models = [RouterEnvironment.ChatModel],
            Tokens = EndlessTokens,
            TokenIntervalMs = 20,
        });

    [Fact]
    public async Task Disconnect_AfterFirstChunk_CancelsUpstream()
    {
        // No draining on dispose: the socket closes the moment the response is disposed.
        using var http = Router.CreateHttpClient(new SocketsHttpHandler { UseProxy = false, MaxResponseDrainSize = 0 });
        using var cts = new CancellationTokenSource();
        var response = await http.SendStreamingAsync(
            Requests.Post("v1/chat/completions", Requests.Chat("chat", "Tell me a long story", stream: true)), cts.Token);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var sse = new SseReader(await response.Content.ReadAsStreamAsync(cts.Token));
        Assert.NotNull(await sse.ReadEventAsync(cts.Token));

        await cts.CancelAsync();
        response.Dispose();

        await AssertUpstreamCancelledAsync();
    }

    [Fact]
    public async Task Disconnect_SdkStopsReading_CancelsUpstream()
    {
        var chat = Env.CreateOpenAIClient().GetChatClient("chat");
        using var cts = new CancellationTokenSource();

        try
        {
            await foreach (var update in chat.CompleteChatStreamingAsync(
                               [new UserChatMessage("Tell me a long story")], cancellationToken: cts.Token))
            {
                if (update.ContentUpdate.Count > 0)
                {
                    await cts.CancelAsync();
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Expected: the next read sees the cancellation.
        }

        await AssertUpstreamCancelledAsync();
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Disconnect_BeforeFirstToken_CancelsUpstream(bool stream)
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { FirstTokenDelayMs = 60_000 });
        using var http = Router.CreateHttpClient(new SocketsHttpHandler { UseProxy = false, MaxResponseDrainSize = 0 });
        using var cts = new CancellationTokenSource();
        var pending = http.SendStreamingAsync(
            Requests.Post("v1/chat/completions", Requests.Chat("chat", "Think hard", stream)), cts.Token);

        await Eventually.UntilAsync(
            () => Env.SimulatorA.Control.GetStatsAsync(), s => s.Active >= 1, "the request to reach the simulator");
        await cts.CancelAsync();
        try
        {
            // A router may send the SSE headers before the first token, or only with it; either way the client leaves now.
            (await pending).Dispose();
        }
        catch (OperationCanceledException)
        {
            // Cancelled while waiting for the headers.
        }

        await AssertUpstreamCancelledAsync();
    }

    private async Task AssertUpstreamCancelledAsync()
    {
        var stats = await Eventually.UntilAsync(
            () => Env.SimulatorA.Control.GetStatsAsync(),
            s => s.Cancelled >= 1 && s.Active == 0,
            "the simulator to see the upstream request cancelled");
        Assert.Equal(0, stats.Completed);

        var request = Assert.Single(await Env.GetBackendRequestsAsync());
        Assert.True(request.TokensSent < EndlessTokens, $"The simulator sent all {request.TokensSent} tokens.");
    }
}
