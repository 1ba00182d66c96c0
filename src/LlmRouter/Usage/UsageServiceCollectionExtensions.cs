using LlmRouter.Data;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace LlmRouter.Usage;

internal static class UsageServiceCollectionExtensions
{
    /// <summary>The usage writer (one per process, also the <see cref="IUsageSink"/>) and the rollup queries.</summary>
    public static IServiceCollection AddUsage(this IServiceCollection services)
    {
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton<Database>();
        services.TryAddSingleton<DatabaseState>();
        services.TryAddSingleton<UsageWriter>();
        services.TryAddSingleton<IUsageSink>(provider => provider.GetRequiredService<UsageWriter>());
        services.AddHostedService(provider => provider.GetRequiredService<UsageWriter>());
        services.AddHostedService<UsageRetention>();
        services.TryAddSingleton<UsageQueries>();
        services.TryAddSingleton<KeyUsageReader>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Health.IReadinessContributor, PostgresReadiness>());
        return services;
    }
}
