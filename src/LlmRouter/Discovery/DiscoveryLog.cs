namespace LlmRouter.Discovery;

/// <summary>Discovery's log lines: state changes only, never one per poll or check while nothing changes.</summary>
internal static partial class DiscoveryLog
{
    [LoggerMessage(1, LogLevel.Warning, "Backend {ApiBase} is unhealthy after {Failures} failed checks: {Error}")]
    public static partial void BackendDown(ILogger logger, Uri apiBase, int failures, string error);

    [LoggerMessage(2, LogLevel.Information, "Backend {ApiBase} is healthy again after {Successes} good checks")]
    public static partial void BackendUp(ILogger logger, Uri apiBase, int successes);

    [LoggerMessage(3, LogLevel.Warning, "Deployment {Id} ({Model} on {ApiBase}) is out after {Failures} failed deep checks: {Error}")]
    public static partial void DeploymentDown(ILogger logger, string id, string model, Uri apiBase, int failures, string error);

    [LoggerMessage(4, LogLevel.Information, "Deployment {Id} ({Model} on {ApiBase}) passes deep checks again")]
    public static partial void DeploymentUp(ILogger logger, string id, string model, Uri apiBase);

    [LoggerMessage(5, LogLevel.Warning, "Model poll of {ApiBase} failed; keeping the last known models: {Error}")]
    public static partial void PollFailed(ILogger logger, Uri apiBase, string error);

    [LoggerMessage(6, LogLevel.Information, "Model poll of {ApiBase} answers again")]
    public static partial void PollRecovered(ILogger logger, Uri apiBase);

    [LoggerMessage(7, LogLevel.Information, "Backend {ApiBase} holds [{Held}]")]
    public static partial void HeldChanged(ILogger logger, Uri apiBase, string held);

    [LoggerMessage(8, LogLevel.Debug, "Context length of {Model} on {ApiBase}: {Length}")]
    public static partial void ContextLength(ILogger logger, string model, Uri apiBase, int? length);

    [LoggerMessage(9, LogLevel.Warning, "Could not read the context length of {Model} on {ApiBase}: {Error}")]
    public static partial void ContextLengthFailed(ILogger logger, string model, Uri apiBase, string error);

    [LoggerMessage(10, LogLevel.Error, "Discovery loop '{Loop}' failed; it carries on at the next interval")]
    public static partial void LoopFailed(ILogger logger, string loop, Exception exception);
}
