using System.Collections.Concurrent;
using System.Text;
using LlmRouter.Configuration;
using StackExchange.Redis;

namespace LlmRouter.LiveState;

/// <summary>
/// The Redis key names of the hot path, formatted and UTF-8 encoded once per deployment, per key and per minute
/// (or quota period) instead of a dozen new strings for every request. The names are those of <see cref="LiveKeys"/>.
/// </summary>
internal sealed class HotKeys
{
    private readonly ConcurrentDictionary<string, DeploymentKeys> _deployments = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Guid, ApiKeyKeys> _keys = new();

    public DeploymentKeys For(Deployment deployment) =>
        _deployments.TryGetValue(deployment.Id, out var keys) && keys.BackendId == deployment.BackendId
            ? keys
            : _deployments[deployment.Id] = new DeploymentKeys(deployment.Id, deployment.BackendId);

    public ApiKeyKeys For(Guid keyId) => _keys.GetOrAdd(keyId, static id => new ApiKeyKeys(id));

    internal static RedisKey Encode(string name) => Encoding.UTF8.GetBytes(name);

    /// <summary>
    /// The names of <paramref name="window"/>: those in <paramref name="slot"/> while it is still the same window (the
    /// same string instance all minute long, usually), else new ones. <paramref name="create"/> is static: no closure per call.
    /// </summary>
    internal static T Current<T, TOwner>(ref T? slot, string window, TOwner owner, Func<string, TOwner, T> create) where T : class, IWindowKeys
    {
        var current = Volatile.Read(ref slot);
        if (current is not null && (ReferenceEquals(current.Window, window) || current.Window == window)) return current;
        current = create(window, owner);
        Volatile.Write(ref slot, current);
        return current;
    }
}

internal interface IWindowKeys
{
    string Window { get; }
}

internal sealed class DeploymentKeys(string id, string backendId)
{
    private MinuteKeys? _minute;

    public string BackendId => backendId;
    public RedisKey Leases { get; } = HotKeys.Encode(LiveKeys.DeploymentLeases(id));
    public RedisKey BackendLeases { get; } = HotKeys.Encode(LiveKeys.BackendLeases(backendId));
    public RedisKey Cooldown { get; } = HotKeys.Encode(LiveKeys.Cooldown(id));
    public RedisKey Failures { get; } = HotKeys.Encode(LiveKeys.Failures(id));
    public RedisKey Ttft { get; } = HotKeys.Encode(LiveKeys.Ttft(id));

    public MinuteKeys Minute(string minute) =>
        HotKeys.Current(ref _minute, minute, id, static (m, id) => new MinuteKeys(m, LiveKeys.DeploymentRequests(id, m), LiveKeys.DeploymentTokens(id, m)));
}

internal sealed class ApiKeyKeys(Guid keyId)
{
    private MinuteKeys? _minute;
    private PeriodKeys? _period;

    public RedisKey Leases { get; } = HotKeys.Encode(LiveKeys.KeyLeases(keyId));

    public MinuteKeys Minute(string minute) =>
        HotKeys.Current(ref _minute, minute, keyId, static (m, id) => new MinuteKeys(m, LiveKeys.KeyRequests(id, m), LiveKeys.KeyTokens(id, m)));

    public PeriodKeys Period(string period) =>
        HotKeys.Current(ref _period, period, keyId,
            static (p, id) => new PeriodKeys(p, LiveKeys.KeyQuota(id, p), LiveKeys.KeyBudget(id, p), LiveKeys.KeySeeded(id, p)));
}

/// <summary>A minute's request and token counters.</summary>
internal sealed class MinuteKeys(string window, string requests, string tokens) : IWindowKeys
{
    public string Window => window;
    public RedisKey Requests { get; } = HotKeys.Encode(requests);
    public RedisKey Tokens { get; } = HotKeys.Encode(tokens);
}

/// <summary>A quota period's token and money counters, and its seeded marker.</summary>
internal sealed class PeriodKeys(string window, string quota, string budget, string seeded) : IWindowKeys
{
    public string Window => window;
    public RedisKey Quota { get; } = HotKeys.Encode(quota);
    public RedisKey Budget { get; } = HotKeys.Encode(budget);
    public RedisKey Seeded { get; } = HotKeys.Encode(seeded);
}
