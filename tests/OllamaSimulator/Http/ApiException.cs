namespace OllamaSimulator.Http;

/// <summary>
/// A request Ollama would refuse. Thrown by request readers and turned into <c>{"error":"…"}</c> (or OpenAI's
/// envelope on /v1) by <see cref="ApiErrorMiddleware"/>; only used before any byte of the answer is written.
/// </summary>
internal sealed class ApiException(int status, string message) : Exception(message)
{
    public int Status => status;
}
