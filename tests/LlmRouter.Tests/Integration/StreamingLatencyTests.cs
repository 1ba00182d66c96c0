using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using LlmRouter.Tests.Infrastructure;
using OpenAI.Chat;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>
/// Proves the router does not buffer: the simulator sends one token, waits 2 s, sends the next. A token must
/// reach the client as soon as the backend writes it, so the first one arrives long before the gap ends.
/// </summary>
public sealed class StreamingLatencyTests(ITestOutputHelper output) : IsolatedRouterTest(output)
{
    private static readonly TimeSpan Gap = TimeSpan.FromSeconds(2);

    // Generous for a loaded 2-core machine, yet far below the 2 s a buffering router would need.
    private static readonly TimeSpan FirstTokenLimit = TimeSpan.FromSeconds(1);

    [Fact]
    public async Task Chat_Streamed_FirstTokenArrivesBeforeTheBackendGapEnds()
    {
        var chat = Env.CreateOpenAIClient().GetChatClient("chat");
        await chat.CompleteChatAsync([new UserChatMessage("warm up")]); // JIT and connections, not part of the measurement
        await SlowSecondTokenAsync();

        var clock = Stopwatch.StartNew();
        var tokenTimes = new List<TimeSpan>();
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Tell me a story")]))
        {
            if (update.ContentUpdate.Any(part => part.Text.Length > 0))
            {
                tokenTimes.Add(clock.Elapsed);
            }
        }

        AssertUnbuffered(tokenTimes, clock.Elapsed);
    }

    [Fact]
    public async Task Completions_Streamed_FirstTokenArrivesBeforeTheBackendGapEnds()
    {
        var body = new JsonObject { ["model"] = "chat", ["prompt"] = "Once upon a time", ["stream"] = true };
        using (var warmUp = await Router.Http.SendAsync(Requests.Post("v1/completions", body.DeepClone())))
        {
            Assert.Equal(HttpStatusCode.OK, warmUp.StatusCode);
        }

        await SlowSecondTokenAsync();

        var clock = Stopwatch.StartNew();
        using var response = await Router.Http.SendStreamingAsync(Requests.Post("v1/completions", body));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        var tokenTimes = new List<TimeSpan>();
        while (await sse.ReadEventAsync() is { } data && data != "[DONE]")
        {
            var choices = JsonNode.Parse(data)!["choices"]!.AsArray();
            if (choices.Any(c => c!["text"]?.GetValue<string>() is { Length: > 0 }))
            {
                tokenTimes.Add(clock.Elapsed);
            }
        }

        AssertUnbuffered(tokenTimes, clock.Elapsed);
    }

    private Task SlowSecondTokenAsync() =>
        Env.ConfigureSimulatorsAsync(new SimConfig { Tokens = 2, FirstTokenDelayMs = 0, TokenIntervalMs = (int)Gap.TotalMilliseconds });

    private void AssertUnbuffered(List<TimeSpan> tokenTimes, TimeSpan total)
    {
        Output.WriteLine($"tokens at {string.Join(", ", tokenTimes.Select(t => $"{t.TotalMilliseconds:0} ms"))}; end at {total.TotalMilliseconds:0} ms");
        Assert.True(tokenTimes.Count >= 2, $"Expected two content tokens, got {tokenTimes.Count}.");
        Assert.True(
            tokenTimes[0] < FirstTokenLimit,
            $"The first token arrived after {tokenTimes[0].TotalMilliseconds:0} ms; the backend sent it at once.");

        // Independent of start-up cost: a buffering router would deliver both tokens together.
        Assert.True(
            tokenTimes[1] - tokenTimes[0] > Gap / 2,
            $"Tokens arrived {(tokenTimes[1] - tokenTimes[0]).TotalMilliseconds:0} ms apart; the backend sent them {Gap.TotalMilliseconds:0} ms apart.");
    }
}
