namespace LlmRouter.Hosting;

internal static class RouterHeaders
{
    public const string RequestId = "x-request-id";
    /// <summary>The deployment id that served the request.</summary>
    public const string Backend = "x-llmrouter-backend";
}
