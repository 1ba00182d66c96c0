namespace LlmRouter.LiveState.Resp;

/// <summary>
/// A script call that did not produce a reply: Redis unreachable, the connection lost or too slow, or an error reply.
/// Callers treat it like Redis being away (process-local counts) and never retry on the request path.
/// </summary>
internal sealed class RedisScriptException(string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The error reply Redis sent (e.g. <c>NOSCRIPT …</c>), or null for a transport failure.</summary>
    public string? ServerError { get; init; }
}
