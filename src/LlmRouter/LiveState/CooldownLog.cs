using LlmRouter.Configuration;

namespace LlmRouter.LiveState;

/// <summary>The one line an operator needs when a deployment is taken out: which, why, and for how long.</summary>
internal static partial class CooldownLog
{
    /// <summary>Written once per cooldown, by the replica whose failure started it.</summary>
    public static void Started(ILogger logger, Deployment deployment, SettleRequest failure) =>
        Started(logger, deployment.Id, deployment.Model, deployment.ApiBase, failure.AllowedFails, failure.FailureWindow.TotalSeconds,
            failure.CooldownTime.TotalSeconds);

    [LoggerMessage(20, LogLevel.Warning,
        "Deployment {Id} ({Model} on {ApiBase}) gets no requests for {CooldownSeconds} s: {Failures} failed within {WindowSeconds} s (allowed_fails)")]
    private static partial void Started(ILogger logger, string id, string model, Uri apiBase, int failures, double windowSeconds, double cooldownSeconds);
}
