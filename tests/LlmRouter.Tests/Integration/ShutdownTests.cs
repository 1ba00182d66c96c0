using System.Diagnostics;
using System.Net;
using LlmRouter.Tests.Infrastructure;
using Xunit.Abstractions;

namespace LlmRouter.Tests.Integration;

/// <summary>
/// SIGTERM: stop accepting, let in-flight streams finish up to <c>drain_timeout</c>, then stop. A stream cut by
/// the drain timeout must not end as if it were complete.
/// </summary>
public sealed class ShutdownTests(ITestOutputHelper output) : IsolatedRouterTest(output)
{
    private const int DrainTimeoutSeconds = 2;
    private static readonly TimeSpan ExitTimeout = TimeSpan.FromSeconds(20);

    protected override Task<RouterEnvironment> StartEnvironmentAsync() =>
        RouterEnvironment.StartSingleBackendAsync(customize: c => c with { DrainTimeoutSeconds = DrainTimeoutSeconds });

    [Fact]
    public async Task Sigterm_StreamShorterThanDrainTimeout_FinishesWithDoneThenExits()
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Tokens = 5, TokenIntervalMs = 100 }); // about 0.5 s
        using var response = await StartStreamAsync();
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        Assert.NotNull(await sse.ReadEventAsync());

        await Router.Process.TerminateAsync();
        var events = await sse.ReadAllEventsAsync();

        Assert.True(events.Count > 0 && events[^1] == "[DONE]", $"The in-flight stream did not finish:\n{sse.Raw}");
        Assert.Null(sse.ReadError);
        Assert.Equal(0, await Router.Process.WaitForExitAsync(ExitTimeout));
    }

    [Fact]
    public async Task Sigterm_StreamLongerThanDrainTimeout_IsCutWithoutDoneAndUpstreamCancelled()
    {
        await Env.ConfigureSimulatorsAsync(new SimConfig { Tokens = 1000, TokenIntervalMs = 50 }); // about 50 s
        using var response = await StartStreamAsync();
        using var sse = new SseReader(await response.Content.ReadAsStreamAsync());
        Assert.NotNull(await sse.ReadEventAsync());

        var clock = Stopwatch.StartNew();
        await Router.Process.TerminateAsync();
        var events = await sse.ReadAllEventsAsync();
        var exitCode = await Router.Process.WaitForExitAsync(ExitTimeout);

        Assert.DoesNotContain("[DONE]", events);
        Assert.True(exitCode is not null, $"The router was still running {ExitTimeout.TotalSeconds:0} s after SIGTERM.");
        Assert.True(
            clock.Elapsed < TimeSpan.FromSeconds(DrainTimeoutSeconds + 10),
            $"The router took {clock.Elapsed.TotalSeconds:0.0} s to stop; drain_timeout is {DrainTimeoutSeconds} s.");
        await Eventually.UntilAsync(
            () => Env.SimulatorA.Control.GetStatsAsync(), s => s.Cancelled >= 1, "the simulator to see the stream cancelled");
    }

    [Fact]
    public async Task Sigterm_Idle_ExitsPromptlyWithZero()
    {
        await Router.Process.TerminateAsync();

        Assert.Equal(0, await Router.Process.WaitForExitAsync(TimeSpan.FromSeconds(DrainTimeoutSeconds + 10)));
    }

    private async Task<HttpResponseMessage> StartStreamAsync()
    {
        var response = await Router.Http.SendStreamingAsync(
            Requests.Post("v1/chat/completions", Requests.Chat("chat", "Tell me a story", stream: true)));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return response;
    }
}
