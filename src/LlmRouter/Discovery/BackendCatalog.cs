using System.Collections.Frozen;
using LlmRouter.Configuration;

namespace LlmRouter.Discovery;

/// <summary>
/// What the router knows about its backends: which models each holds and has loaded, whether it passes its health checks,
/// and each deployment's context length. The <c>Is…</c> and <see cref="ContextLength"/> reads are for the request path:
/// two dictionary lookups and a few volatile reads of immutable values, no locks, no I/O. <see cref="DiscoveryService"/>
/// keeps the state fresh on its intervals; <see cref="PollNowAsync"/> and <see cref="CheckNowAsync"/> do a round at once.
/// </summary>
/// <remarks>
/// A deployment or backend that is not in the config the catalog was built from is unknown: every read answers false
/// (or null), since nothing vouches for it.
/// </remarks>
internal sealed class BackendCatalog : Routing.IDeploymentAvailability
{
    private readonly FrozenDictionary<string, BackendEntry> _backends;
    private readonly FrozenDictionary<string, DeploymentEntry> _deployments;
    private readonly BackendEntry[] _backendList;
    private readonly DeploymentEntry[] _deploymentList;
    private readonly ModelPoller _poller;
    private readonly HealthChecker _checker;
    // One round of each kind at a time: overlapping checks would count one outage twice towards fall.
    private readonly SemaphoreSlim _pollGate = new(1, 1);
    private readonly SemaphoreSlim _checkGate = new(1, 1);
    private readonly SemaphoreSlim _deepGate = new(1, 1);
    private readonly ILogger _logger;
    private readonly TimeProvider _time;

    /// <summary>
    /// A backend's models are asked again for a request's 404 at most this long after its last poll (the re-poll waits
    /// out the rest): a backend that answers 404 for what its list still holds (an old Ollama without
    /// <c>/api/embed</c>, a wrong path prefix) would otherwise be polled once per request.
    /// </summary>
    public static readonly TimeSpan RepollFloor = TimeSpan.FromSeconds(2);

    public BackendCatalog(RouterConfig config, IBackendDiscoveryClient client, TimeProvider time, ILogger<BackendCatalog> logger)
    {
        Settings = config.Router;
        _logger = logger;
        _time = time;
        _poller = new ModelPoller(client, time, logger);
        _checker = new HealthChecker(client, config.Router, time, logger);

        var backends = new Dictionary<string, BackendEntry>(StringComparer.Ordinal);
        var deployments = new List<DeploymentEntry>();
        foreach (var d in config.Deployments)
        {
            if (!backends.TryGetValue(d.BackendId, out var backend)) backends[d.BackendId] = backend = new BackendEntry(d.BackendId, d.ApiBase);
            deployments.Add(new DeploymentEntry(d, backend));
        }
        foreach (var backend in backends.Values)
            backend.Deployments = deployments.Where(d => ReferenceEquals(d.Backend, backend)).ToArray();

        _backendList = backends.Values.ToArray();
        _deploymentList = deployments.ToArray();
        _backends = backends.ToFrozenDictionary(StringComparer.Ordinal);
        _deployments = deployments.ToFrozenDictionary(d => d.Deployment.Id, StringComparer.Ordinal);
    }

    public RouterSettings Settings { get; }

    /// <summary>Every backend in config order, each with its deployments; for readiness.</summary>
    public IReadOnlyList<BackendEntry> Backends => _backendList;

    /// <summary>The backend lists the model (<c>/api/tags</c>), or has not answered a poll yet (the config is trusted).</summary>
    public bool IsHeld(Deployment deployment) => _deployments.TryGetValue(deployment.Id, out var d) && d.IsHeld;

    /// <summary>The model is in the backend's memory (<c>/api/ps</c>): no cold load. False before the first answer.</summary>
    /// <summary>Warm-model affinity: a loaded model answers without a cold load.</summary>
    public bool IsWarm(Deployment deployment) => IsLoaded(deployment);

    public bool IsLoaded(Deployment deployment) => _deployments.TryGetValue(deployment.Id, out var d) && d.IsLoaded;

    /// <summary>The backend server passes its <c>GET /</c> checks (fall/rise).</summary>
    public bool IsHealthy(string backendId) => _backends.TryGetValue(backendId, out var b) && b.Health.Healthy;

    /// <summary>Held, backend healthy, and (with <c>health_check_deep</c>) passing its own one-token check.</summary>
    public bool IsRoutable(Deployment deployment) => _deployments.TryGetValue(deployment.Id, out var d) && d.IsRoutable;

    /// <summary><c>max_input_tokens</c> from the config, else <c>/api/show</c>'s context length; null while unknown.</summary>
    public int? ContextLength(Deployment deployment) => _deployments.TryGetValue(deployment.Id, out var d) ? d.ContextLength : null;

    /// <summary>Polls every backend's models now, all at once; returns when all are done. Waits for a round already running.</summary>
    public async Task PollNowAsync(CancellationToken cancellationToken)
    {
        await _pollGate.WaitAsync(cancellationToken);
        try
        {
            await Task.WhenAll(_backendList.Select(b => _poller.PollAsync(b, cancellationToken)));
        }
        finally
        {
            _pollGate.Release();
        }
    }

    public void ModelMissing(Deployment deployment)
    {
        if (!_backends.TryGetValue(deployment.BackendId, out var backend) || Interlocked.Exchange(ref backend.Repolling, 1) == 1) return;
        _ = RepollAsync(backend);
    }

    private async Task RepollAsync(BackendEntry backend)
    {
        try
        {
            if (backend.Models.LastPollAt is { } last && RepollFloor - (_time.GetUtcNow() - last) is { Ticks: > 0 } wait)
                await Task.Delay(wait, _time);
            await _pollGate.WaitAsync();
            try
            {
                await _poller.PollAsync(backend, CancellationToken.None);
            }
            finally
            {
                _pollGate.Release();
            }
        }
        catch (Exception e)
        {
            DiscoveryLog.LoopFailed(_logger, "models", e);
        }
        finally
        {
            Volatile.Write(ref backend.Repolling, 0);
        }
    }

    /// <summary>One round of health checks: <c>GET /</c> on every backend, and the deep checks when configured.</summary>
    public Task CheckNowAsync(CancellationToken cancellationToken) =>
        Task.WhenAll(CheckBackendsAsync(cancellationToken), Settings.HealthCheckDeep ? CheckDeploymentsAsync(cancellationToken) : Task.CompletedTask);

    /// <summary>One <c>GET /</c> check per backend, all at once.</summary>
    public async Task CheckBackendsAsync(CancellationToken cancellationToken)
    {
        await _checkGate.WaitAsync(cancellationToken);
        try
        {
            await Task.WhenAll(_backendList.Select(b => _checker.CheckAsync(b, cancellationToken)));
        }
        finally
        {
            _checkGate.Release();
        }
    }

    /// <summary>One deep (one-token) check per deployment whose model is held, all at once; runs even when deep checks are off.</summary>
    public async Task CheckDeploymentsAsync(CancellationToken cancellationToken)
    {
        await _deepGate.WaitAsync(cancellationToken);
        try
        {
            await Task.WhenAll(_deploymentList.Select(d => _checker.CheckDeepAsync(d, cancellationToken)));
        }
        finally
        {
            _deepGate.Release();
        }
    }
}
