namespace LlmRouter.Hosting;

/// <summary>
/// Settings for a router with one CPU to itself (a process pinned to one core, a one-CPU container). A thread-pool
/// worker that runs out of work spins for a while before it sleeps, in case more comes. With one CPU each turn of that
/// spin is a <c>sched_yield</c>, a switch to the socket thread and back, and nothing can arrive meanwhile that the
/// socket thread is not already running. With requests on the socket threads (<see cref="InlineIo"/>) the workers run
/// little but StackExchange.Redis's replies and timers, so nearly all they did was spin: at 3,000 requests a second
/// 23 <c>sched_yield</c> calls per request. Without the spinning, in the bench (builds alternating, two runs each)
/// flat-out CPU per request fell from 70 to 56-58 µs and phase 1's added p99 from +491 to +418 µs (medians of four
/// runs); one wrk connection waited up to about 20 µs longer at the median (bench/results/spin-ab-2026-11-22.md).
/// With more CPUs the runtime's default stays: there a spinning worker does not stand in the way of the thread that
/// has work.
/// </summary>
internal static class OneCpu
{
    private const string SpinLimit = "System.Threading.ThreadPool.UnfairSemaphoreSpinLimit";

    /// <summary>Must run before anything uses the thread pool: the runtime reads the setting once.</summary>
    public static void Configure()
    {
        // A setting given in runtimeconfig.json or the environment wins.
        if (Environment.ProcessorCount != 1 || AppContext.GetData(SpinLimit) is not null
            || Environment.GetEnvironmentVariable("DOTNET_ThreadPool_UnfairSemaphoreSpinLimit") is not null) return;
        AppContext.SetData(SpinLimit, "0");
    }
}
