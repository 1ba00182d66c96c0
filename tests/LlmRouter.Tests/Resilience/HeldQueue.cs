using System.Net;
using LlmRouter.Tests.Infrastructure;

namespace LlmRouter.Tests.Resilience;

/// <summary>
/// One request held at the simulator fills what may be in flight, and the queue has one place: of the next two, one
/// waits and the other is refused at once (503 <c>overloaded</c>, <c>Retry-After</c>); once the simulator lets go, the
/// held and the queued request are both answered.
/// </summary>
internal static class HeldQueue
{
    /// <param name="held">Already at the simulator, which holds its answer.</param>
    /// <param name="send">Sends one of the next two requests.</param>
    public static async Task OneQueuedOneRefusedAsync(SimulatorClient simulator, Task<HttpResponseMessage> held, Func<Task<HttpResponseMessage>> send)
    {
        // Which of the next two takes the one queue place is a race; exactly one must, and the other is refused.
        var second = send();
        var third = send();
        var refusedTask = await Task.WhenAny(second, third).WaitAsync(TimeSpan.FromSeconds(30));
        var queued = refusedTask == second ? third : second;

        using (var refused = await refusedTask)
        {
            await OpenAiErrorAssert.IsErrorAsync(refused, HttpStatusCode.ServiceUnavailable, code: "overloaded");
            Assert.NotNull(refused.Headers.RetryAfter);
        }

        Assert.False(held.IsCompleted || queued.IsCompleted, "A request that should be held or queued has already been answered.");
        Assert.Equal(1, (await simulator.GetStatsAsync()).Received);

        await simulator.ReleaseAsync();
        using var heldResponse = await held;
        using var queuedResponse = await queued;
        Assert.Equal(HttpStatusCode.OK, heldResponse.StatusCode);
        Assert.Equal(HttpStatusCode.OK, queuedResponse.StatusCode);
        Assert.Equal(2, (await simulator.GetStatsAsync()).Completed);
    }
}
