using LlmRouter.Health;

namespace LlmRouter.LiveState;

/// <summary>Redis in readiness: a router without it still serves (process-local counts), so it never makes the router unready.</summary>
internal sealed class RedisReadiness(RedisConnection redis, RedisLiveState state) : IReadinessContributor
{
    public string Name => "redis";

    public ValueTask<ReadinessComponent> CheckAsync(CancellationToken cancellationToken)
    {
        var details = new Dictionary<string, string> { ["hot_path_round_trips"] = state.RoundTrips.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        var component = !redis.IsConfigured
            ? new ReadinessComponent(true, "disabled", "no general_settings.redis_url: in-flight counts and limits are per replica")
            : state.IsShared
                ? new ReadinessComponent(true, "connected", null, details)
                : new ReadinessComponent(true, "degraded", "Redis unreachable or not answering: using process-local counts until it returns", details);
        return ValueTask.FromResult(component);
    }
}
