namespace LlmRouter.Hosting;

/// <summary>
/// Handles requests on the socket threads, as an event-loop proxy does: each socket completion (a client's request, a
/// backend's chunk, a Postgres reply) continues on the thread that took it from epoll, and a flush to the client is sent
/// on the thread that wrote it, instead of each being handed to another thread first. That is one thread wake-up less
/// per hop: in the bench about 80 µs less per streamed chunk and 40 µs less per request; CPU per request is unchanged.
/// (StackExchange.Redis 1.2.6 still hands each reply to the thread pool itself.) It is safe only while nothing on those
/// threads waits synchronously for other I/O (no sync-over-async, no synchronous StackExchange.Redis call): such a wait
/// would stall every connection of its socket thread. CPU work runs there too: parsing a multi-megabyte body holds up
/// the thread's other connections for as long as it takes.
/// </summary>
internal static class InlineIo
{
    private const string SocketsVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Must run before the process opens its first socket: the runtime reads the switch once.</summary>
    public static void Configure(IWebHostBuilder host, bool enabled)
    {
        if (!enabled) return;
        // An explicit setting in the environment wins, so an operator can still turn the socket half off.
        if (Environment.GetEnvironmentVariable(SocketsVariable) is null) Environment.SetEnvironmentVariable(SocketsVariable, "1");
        host.UseSockets(sockets => sockets.UnsafePreferInlineScheduling = true);
    }
}
