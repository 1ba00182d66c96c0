using System.Collections.Concurrent;
using LlmRouter.Configuration;

namespace LlmRouter.LiveState;

/// <summary>
/// The <see cref="LiveKeys"/> names of each deployment and virtual key, built once (the per-minute and per-period ones
/// once per minute or period) instead of formatted on every admission and settle, a dozen strings per request.
/// Grows with the deployments and keys in use, as the key cache does.
/// </summary>
internal static class LiveKeyNames
{
    private static readonly ConcurrentDictionary<string, DeploymentNames> Deployments = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<Guid, KeyNames> Keys = new();

    public static DeploymentNames Of(Deployment deployment) =>
        Deployments.TryGetValue(deployment.Id, out var names) && names.BackendId == deployment.BackendId
            ? names
            : Deployments[deployment.Id] = new DeploymentNames(deployment.Id, deployment.BackendId);

    public static KeyNames Of(Guid keyId) => Keys.TryGetValue(keyId, out var names) ? names : Keys.GetOrAdd(keyId, id => new KeyNames(id));
}

internal sealed class DeploymentNames(string id, string backendId)
{
    private PerMinute? _minute;

    public string BackendId { get; } = backendId;
    public string Leases { get; } = LiveKeys.DeploymentLeases(id);
    public string BackendLeases { get; } = LiveKeys.BackendLeases(backendId);
    public string Cooldown { get; } = LiveKeys.Cooldown(id);
    public string Failures { get; } = LiveKeys.Failures(id);
    public string Ttft { get; } = LiveKeys.Ttft(id);

    /// <summary>Requests and tokens counters of <paramref name="minute"/> (a <see cref="TimeBuckets.Minute"/> name).</summary>
    public PerMinute In(string minute)
    {
        var names = Volatile.Read(ref _minute);
        if (names is not null && names.Minute == minute) return names;
        names = new PerMinute(minute, LiveKeys.DeploymentRequests(id, minute), LiveKeys.DeploymentTokens(id, minute));
        Volatile.Write(ref _minute, names);
        return names;
    }
}

internal sealed class KeyNames(Guid id)
{
    private PerMinute? _minute;
    private PerPeriod? _period;

    public string Leases { get; } = LiveKeys.KeyLeases(id);

    public PerMinute In(string minute)
    {
        var names = Volatile.Read(ref _minute);
        if (names is not null && names.Minute == minute) return names;
        names = new PerMinute(minute, LiveKeys.KeyRequests(id, minute), LiveKeys.KeyTokens(id, minute));
        Volatile.Write(ref _minute, names);
        return names;
    }

    /// <summary>Quota and budget counters of a quota period (e.g. <c>lifetime</c>).</summary>
    public PerPeriod InPeriod(string period)
    {
        var names = Volatile.Read(ref _period);
        if (names is not null && names.Period == period) return names;
        names = new PerPeriod(period, LiveKeys.KeyQuota(id, period), LiveKeys.KeyBudget(id, period));
        Volatile.Write(ref _period, names);
        return names;
    }
}

internal sealed record PerMinute(string Minute, string Requests, string Tokens);

internal sealed record PerPeriod(string Period, string Quota, string Budget);
