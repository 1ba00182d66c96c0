using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmRouter.LiveState;

internal static class LiveStateServiceCollectionExtensions
{
    /// <summary>Redis-backed live state with its local fallback; without <c>redis_url</c> the fallback is all there is.</summary>
    public static IServiceCollection AddLiveState(this IServiceCollection services)
    {
        services.AddSingleton<RedisConnection>();
        services.AddSingleton<LocalLiveState>();
        services.AddSingleton<RedisLiveState>();
        services.AddSingleton<ILiveState>(sp => sp.GetRequiredService<RedisLiveState>());
        services.AddSingleton<LeaseHeartbeat>();
        services.AddHostedService(sp => sp.GetRequiredService<LeaseHeartbeat>());
        services.AddHostedService<LiveStateLifetime>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Health.IReadinessContributor, RedisReadiness>());
        return services;
    }
}
