namespace LlmRouter.Health;

/// <summary>
/// A dependency that reports into <c>GET /health/readiness</c> next to the backends (Redis, Postgres, …). Register with
/// <c>services.TryAddEnumerable(ServiceDescriptor.Singleton&lt;IReadinessContributor, X&gt;())</c>. Called per readiness
/// request, so keep it quick: report state already known rather than probing, or bound the probe tightly.
/// </summary>
internal interface IReadinessContributor
{
    /// <summary>The key of its section under <c>components</c>, e.g. <c>redis</c>.</summary>
    string Name { get; }

    ValueTask<ReadinessComponent> CheckAsync(CancellationToken cancellationToken);
}
