using LlmRouter.Configuration;

namespace LlmRouter.Discovery;

/// <summary>
/// Active health checks, as HAProxy's <c>inter</c>/<c>fall</c>/<c>rise</c>: <c>GET /</c> per backend, and with
/// <c>health_check_deep</c> one token per deployment, each result fed to that target's <see cref="HealthCheckState"/>.
/// </summary>
internal sealed class HealthChecker(IBackendDiscoveryClient client, RouterSettings settings, TimeProvider time, ILogger logger)
{
    /// <summary><c>GET /</c> is answered by Ollama's HTTP layer without touching a model, so it is quick even under load.</summary>
    public static readonly TimeSpan PingTimeout = TimeSpan.FromSeconds(2);

    /// <summary>A deep check may have to load the model first, so it gets what a real request gets for its first token.</summary>
    private TimeSpan DeepTimeout => settings.FirstTokenTimeout;

    public async Task CheckAsync(BackendEntry backend, CancellationToken stopping)
    {
        var (_, error) = await DiscoveryCall.TryAsync(async ct =>
        {
            await client.PingAsync(backend.ApiBase, ct);
            return true;
        }, PingTimeout, stopping);

        var before = backend.Health;
        var after = Next(before, error);
        backend.Health = after;
        if (before.Healthy && !after.Healthy) DiscoveryLog.BackendDown(logger, backend.ApiBase, after.ConsecutiveFailures, after.LastError!);
        else if (!before.Healthy && after.Healthy) DiscoveryLog.BackendUp(logger, backend.ApiBase, after.ConsecutiveSuccesses);
    }

    public async Task CheckDeepAsync(DeploymentEntry deployment, CancellationToken stopping)
    {
        var models = deployment.Backend.Models;
        HeldModel? held = null;
        // A model the backend no longer holds is already out of routing; asking it for a token would only record noise.
        if (models.Held is { } heldModels && !heldModels.TryGetValue(deployment.ModelKey, out held)) return;

        var d = deployment.Deployment;
        var (_, error) = await DiscoveryCall.TryAsync(async ct =>
        {
            await client.GenerateOneTokenAsync(d.ApiBase, d.Model, held?.EmbeddingOnly ?? false, ct);
            return true;
        }, DeepTimeout, stopping);

        var before = deployment.DeepHealth;
        var after = Next(before, error);
        deployment.DeepHealth = after;
        if (before.Healthy && !after.Healthy) DiscoveryLog.DeploymentDown(logger, d.Id, d.Model, d.ApiBase, after.ConsecutiveFailures, after.LastError!);
        else if (!before.Healthy && after.Healthy) DiscoveryLog.DeploymentUp(logger, d.Id, d.Model, d.ApiBase);
    }

    private HealthCheckState Next(HealthCheckState state, string? error) => error is null
        ? state.Succeeded(time.GetUtcNow(), settings.HealthCheckRise)
        : state.Failed(error, time.GetUtcNow(), settings.HealthCheckFall);
}
