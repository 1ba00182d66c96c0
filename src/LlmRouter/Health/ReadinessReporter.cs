using LlmRouter.Discovery;

namespace LlmRouter.Health;

/// <summary>Builds the readiness report from the catalog's current state (no backend I/O) and the registered contributors.</summary>
internal sealed class ReadinessReporter(BackendCatalog catalog, IEnumerable<IReadinessContributor> contributors)
{
    private readonly IReadinessContributor[] _contributors = contributors.ToArray();

    public async Task<ReadinessReport> ReportAsync(CancellationToken cancellationToken)
    {
        var deep = catalog.Settings.HealthCheckDeep;
        var routable = 0;
        var backends = new List<BackendReadiness>(catalog.Backends.Count);
        foreach (var backend in catalog.Backends)
        {
            var health = backend.Health;
            var models = backend.Models;
            var deployments = new List<DeploymentReadiness>(backend.Deployments.Count);
            foreach (var d in backend.Deployments)
            {
                var isRoutable = d.IsRoutable;
                if (isRoutable) routable++;
                var deepHealth = d.DeepHealth;
                deployments.Add(new DeploymentReadiness(
                    d.Deployment.Id, d.Deployment.ModelName, d.Deployment.Model, isRoutable, d.IsHeld, d.IsLoaded, d.ContextLength,
                    deep ? new DeepCheckReadiness(StatusOf(deepHealth.Healthy), deepHealth.ConsecutiveFailures, deepHealth.LastCheckAt, deepHealth.LastError) : null));
            }
            backends.Add(new BackendReadiness(
                backend.ApiBase.AbsoluteUri, StatusOf(health.Healthy), health.ConsecutiveFailures, health.ConsecutiveSuccesses,
                health.LastCheckAt, health.LastError, health.LastErrorAt,
                models.Held is null ? "config" : "poll", models.Held is null ? null : models.HeldNames, models.LoadedNames,
                models.LastPollAt, models.LastSuccessAt, models.LastError, deployments));
        }

        Dictionary<string, ReadinessComponent>? components = null;
        var componentsReady = true;
        if (_contributors.Length > 0)
        {
            var checks = await Task.WhenAll(_contributors.Select(c => c.CheckAsync(cancellationToken).AsTask()));
            components = new Dictionary<string, ReadinessComponent>(StringComparer.Ordinal);
            for (var i = 0; i < _contributors.Length; i++)
            {
                components[_contributors[i].Name] = checks[i];
                componentsReady &= checks[i].Ready;
            }
        }

        var ready = routable > 0 && componentsReady;
        return new ReadinessReport(ready ? "ready" : "not_ready", routable, backends, components);
    }

    private static string StatusOf(bool healthy) => healthy ? "healthy" : "unhealthy";
}
