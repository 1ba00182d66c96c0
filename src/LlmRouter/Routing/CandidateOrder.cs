using System.Collections.Concurrent;
using LlmRouter.Configuration;
using LlmRouter.LiveState;

namespace LlmRouter.Routing;

/// <summary>
/// Orders a group's routable deployments for admission by the configured strategy. Live numbers come back with
/// every admission reply and are remembered here, so ordering costs no extra round trip.
/// </summary>
internal sealed class CandidateOrder(RouterSettings settings)
{
    /// <summary>Deployments within this fraction of the best latency share load instead of the best taking all.</summary>
    private const double LatencyBuffer = 0.1;

    private readonly ConcurrentDictionary<string, DeploymentStats> _stats = new(StringComparer.Ordinal);

    /// <summary>
    /// Whether an admission over <paramref name="candidates"/> deployments should bring their live numbers back
    /// (<see cref="AdmissionRequest.WantsStats"/>): only latency- and usage-based routing read them, and one candidate
    /// has one order, so its numbers would never be read.
    /// </summary>
    public bool WantsStats(int candidates) =>
        candidates > 1 && settings.RoutingStrategy is RoutingStrategy.LatencyBased or RoutingStrategy.UsageBased;

    public void Remember(IReadOnlyDictionary<string, DeploymentStats> stats)
    {
        foreach (var (id, value) in stats) _stats[id] = value;
    }

    public DeploymentStats StatsOf(string deploymentId) => _stats.GetValueOrDefault(deploymentId);

    /// <returns>The candidates in preference order, and whether admission should take the least busy rather than the first.</returns>
    public (Deployment[] Ordered, bool LeastBusy) Order(Deployment[] candidates, IDeploymentAvailability availability)
    {
        var leastBusy = settings.RoutingStrategy is not (RoutingStrategy.SimpleShuffle or RoutingStrategy.LatencyBased or RoutingStrategy.UsageBased);
        // One candidate has one order (the common single-deployment group): no copy, no shuffle.
        if (candidates.Length == 1) return (candidates, leastBusy);
        var ordered = candidates.ToArray();
        Random.Shared.Shuffle(ordered);
        switch (settings.RoutingStrategy)
        {
            case RoutingStrategy.LeastBusy:
                // Ties on in-flight count go to the earliest in order: warm models first, otherwise random.
                return (WarmFirst(ordered, availability), true);
            case RoutingStrategy.SimpleShuffle:
                return (WeightedShuffle(ordered), false);
            case RoutingStrategy.LatencyBased:
                var best = ordered.Select(d => StatsOf(d.Id).TtftMs).Where(t => t > 0).DefaultIfEmpty(0).Min();
                // Unmeasured deployments (0) sort first so they get measured; near-best ones stay shuffled among themselves.
                ordered = [.. ordered.OrderBy(d => StatsOf(d.Id).TtftMs is var t && t <= 0 ? -1 : t <= best * (1 + LatencyBuffer) ? 0 : t)
                    .ThenByDescending(availability.IsWarm)];
                return (ordered, false);
            case RoutingStrategy.UsageBased:
                ordered = [.. ordered.OrderBy(d => StatsOf(d.Id).TokensThisMinute).ThenByDescending(availability.IsWarm)];
                return (ordered, false);
            default:
                return (ordered, true);
        }
    }

    /// <summary>A stable partition: warm before cold.</summary>
    private static Deployment[] WarmFirst(Deployment[] shuffled, IDeploymentAvailability availability)
    {
        var result = new Deployment[shuffled.Length];
        var next = 0;
        foreach (var d in shuffled) if (availability.IsWarm(d)) result[next++] = d;
        foreach (var d in shuffled) if (!availability.IsWarm(d)) result[next++] = d;
        return result;
    }

    /// <summary>Weighted random order by <c>weight</c>, else <c>rpm</c>, else <c>tpm</c> (LiteLLM's simple-shuffle).</summary>
    private static Deployment[] WeightedShuffle(Deployment[] deployments)
    {
        static double WeightOf(Deployment d) => d.Weight ?? d.Rpm ?? d.Tpm ?? 1;
        // Efraimidis–Spirakis: sort by u^(1/w), one random draw per item.
        return [.. deployments.OrderByDescending(d => Math.Pow(Random.Shared.NextDouble(), 1 / Math.Max(WeightOf(d), 1e-9)))];
    }
}
