namespace LlmRouter.Hosting;

/// <summary>
/// Settings for a router that has one CPU to itself (a process pinned to one core, a one-CPU container). A thread-pool
/// worker that runs out of work spins for a while before it sleeps, in case more comes. With one CPU that spinning is
/// <c>sched_yield</c> after <c>sched_yield</c>: each one a switch to the socket thread and back, with nothing gained.
/// In the bench (open loop at 3,000-4,000 requests per second) it was about a tenth of the router's CPU, and turning it
/// off took 10-15% off the CPU per request with no change in latency. With more CPUs the runtime's default stays.
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
