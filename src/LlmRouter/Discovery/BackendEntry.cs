using LlmRouter.Configuration;

namespace LlmRouter.Discovery;

/// <summary>
/// One backend server (one <c>api_base</c>) and what is known about it. Each state is an immutable value behind a
/// reference that only the catalog's (serialised) pollers and checkers replace, so any thread may read it at any time.
/// </summary>
internal sealed class BackendEntry(string id, Uri apiBase)
{
    private BackendModels _models = BackendModels.Unpolled;
    private HealthCheckState _health = HealthCheckState.Initial;

    public string Id { get; } = id;
    public Uri ApiBase { get; } = apiBase;
    public IReadOnlyList<DeploymentEntry> Deployments { get; internal set; } = [];

    /// <summary>1 while a poll asked for by a request (a model missing) is on its way: one at a time.</summary>
    internal int Repolling;

    public BackendModels Models
    {
        get => Volatile.Read(ref _models);
        internal set => Volatile.Write(ref _models, value);
    }

    /// <summary>The <c>GET /</c> check.</summary>
    public HealthCheckState Health
    {
        get => Volatile.Read(ref _health);
        internal set => Volatile.Write(ref _health, value);
    }
}

/// <summary>One deployment with its backend and its model's normalised key, worked out once.</summary>
internal sealed class DeploymentEntry(Deployment deployment, BackendEntry backend)
{
    private HealthCheckState _deepHealth = HealthCheckState.Initial;

    public Deployment Deployment { get; } = deployment;
    public BackendEntry Backend { get; } = backend;
    public string ModelKey { get; } = OllamaModelName.Normalize(deployment.Model);

    /// <summary>The one-token check (<c>health_check_deep</c>); stays healthy when deep checks are off.</summary>
    public HealthCheckState DeepHealth
    {
        get => Volatile.Read(ref _deepHealth);
        internal set => Volatile.Write(ref _deepHealth, value);
    }

    public bool IsHeld => Backend.Models.Held is not { } held || held.ContainsKey(ModelKey);

    public bool IsLoaded => Backend.Models.Loaded.Contains(ModelKey);

    public bool IsRoutable => IsHeld && Backend.Health.Healthy && DeepHealth.Healthy;

    public int? ContextLength =>
        Deployment.MaxInputTokens ?? (Backend.Models.ContextLengths.TryGetValue(ModelKey, out var known) ? known.Length : null);
}
