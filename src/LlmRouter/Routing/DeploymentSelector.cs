using System.Collections.Concurrent;
using LlmRouter.Configuration;

namespace LlmRouter.Routing;

/// <summary>
/// Picks the deployment of a group with the fewest requests in flight in this process; ties rotate.
/// The lease returned must be disposed when the answer ends, which frees the slot.
/// </summary>
internal sealed class DeploymentSelector
{
    private readonly ConcurrentDictionary<string, InFlight> _inFlight = new(StringComparer.Ordinal);
    private int _rotation;

    public DeploymentLease Acquire(Deployment[] group)
    {
        var start = (int)((uint)Interlocked.Increment(ref _rotation) % (uint)group.Length);
        Deployment? best = null;
        InFlight? bestCount = null;
        for (var i = 0; i < group.Length; i++)
        {
            var candidate = group[(start + i) % group.Length];
            var count = _inFlight.GetOrAdd(candidate.Id, static _ => new InFlight());
            if (bestCount is null || Volatile.Read(ref count.Value) < Volatile.Read(ref bestCount.Value))
            {
                best = candidate;
                bestCount = count;
            }
        }
        Interlocked.Increment(ref bestCount!.Value);
        return new DeploymentLease(best!, bestCount);
    }

    public int InFlightFor(string deploymentId) => _inFlight.TryGetValue(deploymentId, out var count) ? Volatile.Read(ref count.Value) : 0;

    internal sealed class InFlight
    {
        public int Value;
    }
}

internal sealed class DeploymentLease(Deployment deployment, DeploymentSelector.InFlight count) : IDisposable
{
    private int _released;

    public Deployment Deployment { get; } = deployment;

    public void Dispose()
    {
        if (Interlocked.Exchange(ref _released, 1) == 0) Interlocked.Decrement(ref count.Value);
    }
}
