namespace LlmRouter.Hosting;

internal static class RouterHeaders
{
    public const string RequestId = "x-request-id";
    /// <summary>The deployment id that served the request.</summary>
    public const string Backend = "x-llmrouter-backend";
    /// <summary>How many deployments were tried (retries included).</summary>
    public const string Attempts = "x-llmrouter-attempts";
    /// <summary>The model group that served, when a fallback did.</summary>
    public const string Fallback = "x-llmrouter-fallback";
}
