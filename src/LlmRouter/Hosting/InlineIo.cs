namespace LlmRouter.Hosting;

/// <summary>
/// Handles requests on the socket threads, as an event-loop proxy does: each I/O completion (a client's request, a
/// backend's chunk, a Redis reply) continues right where the kernel reported it, instead of being queued to the thread
/// pool and picked up by another thread. On one core that halves the CPU per request and removes most context switches.
/// Safe because nothing on the request path blocks; a blocking call there would stall every connection of its thread.
/// </summary>
internal static class InlineIo
{
    private const string SocketsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Must run before the first socket is used: the runtime reads the switch once.</summary>
    public static void Configure(IWebHostBuilder host, bool enabled)
    {
        if (!enabled) return;
        // An explicit setting in the environment wins, so an operator can still turn the socket half off.
        if (Environment.GetEnvironmentVariable(SocketsVariable) is null) Environment.SetEnvironmentVariable(SocketsVariable, "1");
        host.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
    }
}
